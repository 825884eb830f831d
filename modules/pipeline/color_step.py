"""A1111's img2img colour correction as a run step (`img2img_color_correction`,
`save_images_before_color_correction`); the maths is modules/imaging/color_correction.py."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from modules.imaging.color_correction import color_correct, correction_target

BEFORE_SUFFIX = "-before-color-correction"


@dataclass(frozen=True)
class ColorCorrection:
    """The colours to match, one LAB array per init image at the working size (after crop and fill, as A1111),
    and whether the uncorrected result is saved too."""

    targets: tuple[np.ndarray, ...]
    save_before: bool = False

    def correct(self, image: Image.Image, target: np.ndarray,
                composite: Callable[[Image.Image], Image.Image]) -> tuple[Image.Image, tuple]:
        """(corrected image, its `before` copies): the copy is the uncorrected result as it would have been
        finished (`composite`: pasted back and overlaid), saved with A1111's suffix."""
        before = ((BEFORE_SUFFIX, composite(image)),) if self.save_before else ()
        return color_correct(image, target), before


def color_correction(opts, working: list[Image.Image]) -> ColorCorrection | None:
    """The step when the `img2img_color_correction` setting asks for it."""
    if not opts.img2img_color_correction:
        return None
    return ColorCorrection(tuple(correction_target(image) for image in working),
                           bool(opts.save_images_before_color_correction))
