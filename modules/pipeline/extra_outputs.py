"""The pictures A1111 makes beside each finished image: copies saved just before a step changed it (the
`save_images_before_*` settings) and, when inpainting, the mask and the masked composite (`return_mask`,
`return_mask_composite`, `save_mask`, `save_mask_composite`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from modules.imaging.resize import RESIZE_AND_FILL, resize_image

MASK_SUFFIX, COMPOSITE_SUFFIX = "-mask", "-mask-composite"


@dataclass(frozen=True)
class Finished:
    """One finished image with what its extra pictures are made of."""

    image: Image.Image
    before: tuple[tuple[str, Image.Image], ...] = ()  # (file suffix, picture): saved just before `image`
    mask: Image.Image | None = None  # A1111's mask_for_overlay: the repaint mask of the output ('L')
    denoised: Image.Image | None = None  # the result before the original was composited over it


@dataclass(frozen=True)
class MaskOutputs:
    """Which inpainting extras are shown (appended to the results) and which are saved to disk."""

    return_mask: bool = False
    return_composite: bool = False
    save_mask: bool = False
    save_composite: bool = False

    @classmethod
    def from_options(cls, opts) -> MaskOutputs:
        return cls(bool(opts.get("return_mask", False)), bool(opts.get("return_mask_composite", False)),
                   bool(opts.get("save_mask", False)), bool(opts.get("save_mask_composite", False)))

    def pictures(self, done: Finished) -> list[tuple[str, Image.Image, bool, bool]]:
        """(suffix, picture, save it, show it) for each extra of `done`, in A1111's order: mask, composite."""
        if done.mask is None:
            return []
        out = []
        if self.return_mask or self.save_mask:
            out.append((MASK_SUFFIX, done.mask.convert("RGB"), self.save_mask, self.return_mask))
        if self.return_composite or self.save_composite:
            denoised = done.image if done.denoised is None else done.denoised
            out.append((COMPOSITE_SUFFIX, mask_composite(denoised, done.mask, done.image.size),
                        self.save_composite, self.return_composite))
        return out


def mask_composite(denoised: Image.Image, mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The generated pixels where the mask repainted, transparent elsewhere (RGBA): alpha = the result's own alpha
    (0 outside an "only masked" crop) × the mask, brought to `size` (the output's) by resize-and-fill as A1111."""
    if mask.size != size:
        mask = resize_image(RESIZE_AND_FILL, mask, *size)
    rgba = np.asarray(denoised.convert("RGBA"))  # [H, W, 4] uint8
    weight = np.asarray(mask.convert("L"), dtype=np.uint16)  # [H, W]
    alpha = (rgba[..., 3].astype(np.uint16) * weight + 127) // 255  # [H, W]
    colour = np.where(alpha[..., None] > 0, rgba[..., :3], 0).astype(np.uint8)  # [H, W, 3]
    return Image.fromarray(np.dstack([colour, alpha.astype(np.uint8)]), mode="RGBA")
