"""A unit's image → its detected map at the generation size: preprocessor (sliders, pixel perfect) then resize mode.

This is what the preview button, /controlnet/detect and the pipeline share, so the three show the same map.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.controlnet.preprocessors import Registry
from modules.controlnet.preprocessors.tile import show_inpaint
from modules.controlnet.resize import fit_map, pixel_perfect_resolution
from modules.controlnet.units import ControlUnit
from modules.errors import InvalidInput


def unit_inputs(unit: ControlUnit, init_image: Image.Image | None = None, init_mask: Image.Image | None = None,
                where: str = "unit") -> tuple[Image.Image, Image.Image | None]:
    """The unit's image and mask; in img2img a unit without an image uses the init image (and the inpaint mask),
    as the extension does. A unit with neither is refused naming its image field."""
    image, mask = unit.image, unit.mask
    if image is None:
        if init_image is None:
            raise InvalidInput(f"{where}.image", "this enabled unit has no control image",
                               "a base64 image, or disable the unit")
        image, mask = init_image.convert("RGB"), mask if mask is not None else init_mask
    return image, (mask.convert("L") if mask is not None else None)


def _prepared(registry: Registry, module: str, image: Image.Image, mask: Image.Image | None, processor_res: float,
              threshold_a: float, threshold_b: float, seed: int, where: str):
    """(preprocessor, image uint8 [H, W, 3], its resolved Params); a missing required mask is refused."""
    pre = registry.get(module, f"{where}.module")
    array = np.asarray(image.convert("RGB"))  # [H, W, 3]
    mask_array = None
    if mask is not None and pre.accepts_mask:
        mask_array = np.asarray(mask.convert("L").resize(image.size, Image.Resampling.NEAREST))  # [H, W]
    if pre.requires_mask and mask_array is None:
        raise InvalidInput(f"{where}.mask", f"the {pre.name} preprocessor needs a mask",
                           "a mask image (white = area to fill), or img2img inpaint")
    return pre, array, pre.params(processor_res, threshold_a, threshold_b, mask_array, np.random.default_rng(seed))


def run_preprocessor(registry: Registry, module: str, image: Image.Image, mask: Image.Image | None = None, *,
                     processor_res: float = -1, threshold_a: float = -1, threshold_b: float = -1, seed: int = 0,
                     where: str = "unit") -> np.ndarray:
    """The raw detected map, uint8 [h, w, 3] (or [h, w, 4] with the mask as alpha for inpaint modules)."""
    pre, array, params = _prepared(registry, module, image, mask, processor_res, threshold_a, threshold_b, seed,
                                   where)
    return pre.run(array, params)


def run_preprocessor_with_poses(registry: Registry, module: str, image: Image.Image, mask: Image.Image | None = None,
                                *, processor_res: float = -1, threshold_a: float = -1, threshold_b: float = -1,
                                seed: int = 0, where: str = "unit") -> tuple[np.ndarray, dict | None]:
    """As run_preprocessor, with the people found as OpenPose JSON for the openpose family (None for the rest)."""
    pre, array, params = _prepared(registry, module, image, mask, processor_res, threshold_a, threshold_b, seed,
                                   where)
    if pre.run_with_poses is None:
        return pre.run(array, params), None
    return pre.run_with_poses(array, params)


def detect_for_unit(registry: Registry, unit: ControlUnit, width: int, height: int, *, seed: int = 0,
                    init_image: Image.Image | None = None, init_mask: Image.Image | None = None,
                    where: str = "unit") -> np.ndarray:
    """The unit's detected map fitted to width×height by its resize mode: uint8 [height, width, 3 or 4]."""
    image, mask = unit_inputs(unit, init_image, init_mask, where)
    res = unit.processor_res
    if unit.pixel_perfect:
        res = pixel_perfect_resolution(image.height, image.width, height, width, unit.resize_mode)
    detected = run_preprocessor(registry, unit.module, image, mask, processor_res=res,
                                threshold_a=unit.threshold_a, threshold_b=unit.threshold_b, seed=seed, where=where)
    return fit_map(detected, width, height, unit.resize_mode)


def map_image(detected: np.ndarray) -> Image.Image:
    """A detected map as a viewable RGB image (inpaint maps show the masked area darkened)."""
    return Image.fromarray(np.ascontiguousarray(show_inpaint(detected)[:, :, :3]), "RGB")
