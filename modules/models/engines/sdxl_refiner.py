"""The SDXL refiner: OpenCLIP ViT-bigG/14 alone (under `conditioner.embedders.0.model.`), a 4-level UNet whose time
ids are (height, width, crop top, crop left, aesthetic score), latents ×0.13025.

It finishes the last steps of another model's image (A1111's "Refiner" / "Switch at", `modules/pipeline/refiner.py`)
and is refused as the main model (`refiner_only`). The aesthetic score is A1111's: `sdxl_refiner_high_aesthetic_score`
(6.0) for the prompt, `sdxl_refiner_low_aesthetic_score` (2.5) for the negative prompt.
"""
from __future__ import annotations

from typing import Any

import torch

from modules.models.components import load_openclip_with_projection, load_unet, load_vae
from modules.models.engines.base import EngineContext
from modules.models.engines.sdxl import BIG_G_TEXT, SDXLEngine, TextTower, embedder_text_config
from modules.models.ldm_layout import REFINER_CLIP_G_PREFIX
from modules.models.model_config import ModelSpec

HIGH_AESTHETIC_SCORE = 6.0  # A1111's default for the prompt, when no settings say otherwise


class SDXLRefinerEngine(SDXLEngine):
    """The refiner: one text tower (bigG, cross-attention width 1280), pooled text, size/crop/aesthetic time ids."""

    time_id_names = ("size", "crop_coords", "aesthetic_score")  # A1111: original size, crop, aesthetic score
    refiner_only = True

    @classmethod
    def load(cls, source, spec: ModelSpec, context: EngineContext, baked_vae: bool) -> SDXLRefinerEngine:
        config, device = context.device_config, torch.device(context.device_config.device)
        unet = load_unet(source, spec, config.dtype, device, config.channels_last, added_time_ids=True)
        clip_g = load_openclip_with_projection(source, spec, REFINER_CLIP_G_PREFIX,
                                               embedder_text_config(spec, 0) or dict(BIG_G_TEXT), config.dtype,
                                               device)
        vae = load_vae(source, spec, config.vae_dtype, device, True, config.channels_last) if baked_vae else None
        return cls(unet, vae, (TextTower("clip_g", clip_g, True, "lora_te1_"),), context.tokenizer, spec, config)

    def _added(self, crop: tuple[int, int], aesthetic_score: float | None) -> dict[str, torch.Tensor]:
        score = HIGH_AESTHETIC_SCORE if aesthetic_score is None else float(aesthetic_score)
        return {**super()._added(crop, None), "aesthetic_score": torch.tensor([[score]])}  # [1, 1]

    def prompt_options(self, opts, negative: bool) -> dict[str, Any]:
        score = opts.sdxl_refiner_low_aesthetic_score if negative else opts.sdxl_refiner_high_aesthetic_score
        return {**super().prompt_options(opts, negative), "aesthetic_score": score}
