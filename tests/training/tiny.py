"""Tiny variants of the built-in architecture, so tests run the real training and export code in seconds."""
from __future__ import annotations

from modules.training.configs import builtin_yaml

TINY_UNET = {"model_channels": 32, "channel_mult": [1, 2], "num_res_blocks": 1, "num_heads": 2, "context_dim": 32}
TINY_VAE = {"ch": 32, "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1}
TINY_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
             "projection_dim": 32}


def tiny_builtin_yaml(scale_factor: float = 1.0) -> dict:
    return builtin_yaml(scale_factor, unet=TINY_UNET, vae=TINY_VAE, text=TINY_TEXT)
