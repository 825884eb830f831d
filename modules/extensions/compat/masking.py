"""A1111's `modules.masking`: the crop-region helpers inpainting extensions use (e.g. ADetailer), on Easel's mask
code (modules/imaging/masks.py)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.imaging import masks as core


def get_crop_region_v2(mask, pad: int = 0):
    """(x1, y1, x2, y2) around the non-zero pixels of `mask` (PIL or array), grown by `pad` and kept inside the
    image; None when the mask is empty."""
    image = mask if isinstance(mask, Image.Image) else Image.fromarray(np.asarray(mask).astype(np.uint8))
    box = core.crop_region(image.convert("L"), pad)
    return None if box is None else tuple(box)


def get_crop_region(mask, pad: int = 0):
    """Like get_crop_region_v2, but an empty mask gives the whole image (A1111's older contract)."""
    box = get_crop_region_v2(mask, pad)
    if box is not None:
        return box
    height, width = (mask.height, mask.width) if isinstance(mask, Image.Image) else np.asarray(mask).shape[:2]
    return 0, 0, width, height


def expand_crop_region(crop_region, processing_width, processing_height, image_width, image_height):
    """The region grown to the aspect ratio of the processing size, kept inside the image."""
    return tuple(core.expand_crop_region(tuple(crop_region), processing_width, processing_height, image_width,
                                         image_height))


def fill(image, mask):
    """The masked area filled with blurred colours from around it (img2img's "fill" masked content)."""
    return core.fill_masked(image, mask)
