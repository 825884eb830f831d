"""Which infotext keys fill which request fields: one table for the UI's paste and the API's `infotext` field.

Names are the requests' A1111 field names; the table mirrors A1111's `infotext_utils` paste fields.
"""
from __future__ import annotations

# (infotext key, request field, type)
INFOTEXT_FIELDS: tuple[tuple[str, str, type], ...] = (
    ("Prompt", "prompt", str),
    ("Negative prompt", "negative_prompt", str),
    ("Steps", "steps", int),
    ("Sampler", "sampler_name", str),
    ("Schedule type", "scheduler", str),
    ("CFG scale", "cfg_scale", float),
    ("Seed", "seed", int),
    ("Size-1", "width", int),
    ("Size-2", "height", int),
    ("Variation seed", "subseed", int),
    ("Variation seed strength", "subseed_strength", float),
    ("Seed resize from-1", "seed_resize_from_w", int),
    ("Seed resize from-2", "seed_resize_from_h", int),
    ("Denoising strength", "denoising_strength", float),
    ("Hires upscale", "hr_scale", float),
    ("Hires steps", "hr_second_pass_steps", int),
    ("Hires upscaler", "hr_upscaler", str),
    ("Hires resize-1", "hr_resize_x", int),
    ("Hires resize-2", "hr_resize_y", int),
    ("Mask blur", "mask_blur", int),
    ("Image CFG scale", "image_cfg_scale", float),
    ("Hires checkpoint", "hr_checkpoint_name", str),
    ("Hires sampler", "hr_sampler_name", str),
    ("Hires schedule type", "hr_scheduler", str),
    ("Hires prompt", "hr_prompt", str),
    ("Hires negative prompt", "hr_negative_prompt", str),
    ("Batch size", "batch_size", int),
    ("Refiner", "refiner_checkpoint", str),
    ("Refiner switch at", "refiner_switch_at", float),
)
