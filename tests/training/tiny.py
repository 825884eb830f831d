"""Tiny variants of the built-in architecture, so tests run the real training and export code in seconds."""
from __future__ import annotations

from modules.training.configs import builtin_yaml

TINY_UNET = {"model_channels": 32, "channel_mult": [1, 2], "num_res_blocks": 1, "num_heads": 2, "context_dim": 32}
TINY_VAE = {"ch": 32, "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1}  # f = 8
TINY_VAE_F4 = {"ch": 32, "ch_mult": [1, 1, 1], "num_res_blocks": 1}  # f = 4: 64×64 → 16×16 latents
TINY_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
             "projection_dim": 32}


def tiny_builtin_yaml(scale_factor: float = 1.0, factor: int = 8, inpaint: bool = False) -> dict:
    vae = {8: TINY_VAE, 4: TINY_VAE_F4}[factor]
    return builtin_yaml(scale_factor, inpaint=inpaint, unet=TINY_UNET, vae=vae, text=TINY_TEXT,
                        arch={8: "f8", 4: "f4"}[factor])
