"""Soft inpainting's six settings (A1111's built-in "Soft Inpainting" script), as the img2img request carries them.

Apart from `soft_inpaint` (the tensor maths) so that the request type, and with it the page and the API, load
without torch (docs/architecture.md §4).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SoftSettings:
    """A1111's six parameters with its defaults (UI: schedule bias, preservation strength, transition contrast
    boost, mask influence, difference threshold, difference contrast)."""

    mask_blend_power: float = 1.0
    mask_blend_scale: float = 0.5
    inpaint_detail_preservation: float = 4.0
    composite_mask_influence: float = 0.0
    composite_difference_threshold: float = 0.5
    composite_difference_contrast: float = 2.0

    def infotext(self) -> dict:
        """The infotext keys A1111 writes for an enabled soft inpainting."""
        return {"Soft inpainting enabled": True,
                "Soft inpainting schedule bias": self.mask_blend_power,
                "Soft inpainting preservation strength": self.mask_blend_scale,
                "Soft inpainting transition contrast boost": self.inpaint_detail_preservation,
                "Soft inpainting mask influence": self.composite_mask_influence,
                "Soft inpainting difference threshold": self.composite_difference_threshold,
                "Soft inpainting difference contrast": self.composite_difference_contrast}
