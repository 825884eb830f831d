"""`UnetRun`: one pass's speed options applied to a diffusers `UNet2DConditionModel`, call by call.

Made per sampling pass (the pipeline hands it the options and where to read the current step), it keeps what
must live across the pass's calls: the feature cache and HyperTile's seeded generator.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch

from modules.models.speedups.attention import CallShape, patched_attention
from modules.models.speedups.deepcache import FeatureCache
from modules.models.speedups.options import UnetPatches


class UnetRun:
    """Calls a UNet with `patches` on (`vae_factor`: image pixels per latent pixel, for HyperTile's tile size)."""

    def __init__(self, unet, patches: UnetPatches, step: Callable[[], int], vae_factor: int = 8):
        self.unet, self.patches, self.vae_factor = unet, patches, vae_factor
        self.rng = random.Random(patches.hypertile.seed if patches.hypertile is not None else 0)
        self.cache = FeatureCache(unet, patches.deep_cache_interval, step) if patches.deep_cache_interval > 1 \
            else None

    def __call__(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                 kwargs: dict[str, Any]) -> torch.Tensor:
        """The UNet's output [B, C, h, w] for x [B, C_in, h, w], t [B], context [B, L, D] (model dtypes)."""
        latent_hw = (x.shape[2], x.shape[3])
        shape = CallShape(latent_hw, (latent_hw[1] * self.vae_factor, latent_hw[0] * self.vae_factor))
        attention = patched_attention(self.unet, self.patches, shape, self.rng) if self.patches.patches_attention \
            else nullcontext()
        with attention:
            if self.cache is not None:
                return self.cache(x, t, context, kwargs)
            return self.unet(x, t, encoder_hidden_states=context, return_dict=False, **kwargs)[0]
