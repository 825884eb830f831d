"""The built-in model's architecture and noise schedule, written as an LDM yaml (what the loader reads).

Architectures (see the model card), a table so a run folder can say which one it trains:
- "f8" (the first shipped model): a 4-level VAE (64×64 images → 8×8×4 latents; diffusers downsamples one time fewer
  than its block count) and a two-level UNet with cross-attention at both levels. At 8×8 a shape spans 2-4 latent
  cells, so circle and square differ only inside a cell's code: that model learned colour and position, not shape.
- "f4": a 3-level VAE (64×64 → 16×16×4, a medium shape spans ~6 cells, so its outline is spatial layout like its
  position) and a three-level UNet (64, 128, 128 channels, one res block per level) with attention at 8×8 and 4×4
  only: self-attention over 256 tokens at 16×16 cost 60 % more per step than it is worth on a CPU.
- "f4-nrb2": f4's VAE with two res blocks and attention layers per UNet level, as f8 has (10.1 M parameters instead
  of 6.7 M, ~1.35× the step time): more depth in which a position word can become a place in the picture.
Both: a small CLIP text encoder with the real tokenizer, v-prediction, and a scaled-linear schedule stretched so that
the last ᾱ is ≈2.3e-4 instead of SD's 4.7e-3: at small latents SD's last step leaves the picture's mean colour
readable in the starting noise (the model then copies the background from the noise, not the prompt). A small but
non-zero ᾱ_T keeps σ_max finite (≈66) so every Karras-style sampler works unchanged; zero-terminal-SNR would make
σ_max infinite.
"""
from __future__ import annotations

import copy

import yaml

from modules.paths import INSTALL_DIR

NATIVE_SIZE = 64
LINEAR_START = 0.00085
LINEAR_END = 0.02
ARCHITECTURES: dict[str, dict[str, dict]] = {
    "f8": {"unet": {"model_channels": 64, "channel_mult": [1, 2], "num_res_blocks": 2, "attention_resolutions": [1, 2],
                    "num_heads": 4, "context_dim": 128, "transformer_depth": 1},
           "vae": {"ch": 32, "ch_mult": [1, 2, 2, 2], "num_res_blocks": 1, "z_channels": 4}},
    "f4": {"unet": {"model_channels": 64, "channel_mult": [1, 2, 2], "num_res_blocks": 1,
                    "attention_resolutions": [2, 4], "num_heads": 4, "context_dim": 128, "transformer_depth": 1},
           "vae": {"ch": 32, "ch_mult": [1, 2, 2], "num_res_blocks": 1, "z_channels": 4}},
    "f4-nrb2": {"unet": {"model_channels": 64, "channel_mult": [1, 2, 2], "num_res_blocks": 2,
                         "attention_resolutions": [2, 4], "num_heads": 4, "context_dim": 128, "transformer_depth": 1},
                "vae": {"ch": 32, "ch_mult": [1, 2, 2], "num_res_blocks": 1, "z_channels": 4}},
}
DEFAULT_ARCH = "f4"
TEXT = {"hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 3, "num_attention_heads": 4,
        "vocab_size": 49408, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "projection_dim": 128,
        "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407, "layer_norm_eps": 1e-5}


def latent_factor(config: dict) -> int:
    """Pixels per latent cell of the yaml's VAE (diffusers downsamples once per block but the last).

    >>> latent_factor(builtin_yaml(arch="f8")), latent_factor(builtin_yaml(arch="f4"))
    (8, 4)
    """
    return 2 ** (len(config["model"]["params"]["first_stage_config"]["params"]["ddconfig"]["ch_mult"]) - 1)


def builtin_yaml(scale_factor: float = 1.0, inpaint: bool = False, unet: dict | None = None, vae: dict | None = None,
                 text: dict | None = None, arch: str = DEFAULT_ARCH) -> dict:
    """The shipped v1 yaml with the sizes of `arch`, v-prediction, its schedule and Easel's extensions.

    >>> cfg = builtin_yaml(0.5)["model"]["params"]
    >>> cfg["parameterization"], cfg["scale_factor"], cfg["easel_native_size"], cfg["linear_end"], cfg["image_size"]
    ('v', 0.5, 64, 0.02, 16)
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    base = "v1-inpainting-inference.yaml" if inpaint else "v1-inference.yaml"
    config = copy.deepcopy(yaml.safe_load((INSTALL_DIR / "configs" / base).read_text()))
    params = config["model"]["params"]
    params["unet_config"]["params"].update(ARCHITECTURES[arch]["unet"], **(unet or {}))
    params["first_stage_config"]["params"]["ddconfig"].update(ARCHITECTURES[arch]["vae"], **(vae or {}))
    params["cond_stage_config"]["params"] = {"text_config": dict(TEXT, **(text or {}))}
    params.update({"parameterization": "v", "linear_start": LINEAR_START, "linear_end": LINEAR_END,
                   "scale_factor": float(scale_factor), "easel_native_size": NATIVE_SIZE})
    params["image_size"] = NATIVE_SIZE // latent_factor(config)
    params["unet_config"]["params"]["image_size"] = params["image_size"]
    return config
