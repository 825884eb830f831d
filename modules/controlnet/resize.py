"""Fitting a detected map (the preprocessor's output) to the generation size, and the pixel-perfect resolution.

Pure numpy/PIL functions. Maps are uint8 H×W×3, or H×W×4 for inpaint maps whose alpha is the mask (255 = masked).
The three modes are sd-webui-controlnet's: Just Resize stretches, Crop and Resize covers the target and crops the
middle, Resize and Fill fits inside and pads with the median border colour (padding counts as masked).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.controlnet.units import ResizeMode


def pixel_perfect_resolution(raw_h: int, raw_w: int, target_h: int, target_w: int, mode: ResizeMode) -> int:
    """The preprocessor resolution at which the map's short side lands on the target size 1:1.

    Resize and Fill scales by the smaller factor (the whole image fits), the other modes by the larger (it covers).

    >>> pixel_perfect_resolution(300, 400, 512, 512, ResizeMode.CROP_AND_RESIZE)
    512
    >>> pixel_perfect_resolution(300, 400, 512, 512, ResizeMode.RESIZE_AND_FILL)
    384
    """
    k_h, k_w = target_h / raw_h, target_w / raw_w
    k = min(k_h, k_w) if mode == ResizeMode.RESIZE_AND_FILL else max(k_h, k_w)
    return int(np.round(k * min(raw_h, raw_w)))


def _resample(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize choosing the filter as the extension does: few colours (segmentation-like maps) → nearest, shrinking →
    box (area), growing → bicubic; black/white maps are re-binarised so edges stay hard."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    colours = colour_count(array)
    binary = colours == 2 and array.min() < 16 and array.max() > 240
    if 2 < colours < 200:
        method = Image.Resampling.NEAREST
    elif width * height < array.shape[0] * array.shape[1]:
        method = Image.Resampling.BOX
    else:
        method = Image.Resampling.BICUBIC
    channels = [np.asarray(Image.fromarray(array[:, :, c]).resize((width, height), method))
                for c in range(array.shape[2])]
    out = np.stack(channels, axis=2)  # [H, W, C]
    if binary:
        gray = out[:, :, :3].mean(axis=2)  # [H, W]
        out[:, :, :3] = np.where((gray > otsu_level(gray))[:, :, None], 255, 0).astype(np.uint8)
    return out


def colour_count(array: np.ndarray, enough: int = 200) -> int:
    """How many distinct colours an [H, W, C ≤ 4] uint8 map has, up to `enough` (the resize filters only ask "2?",
    "under 200?"): colours are packed into one integer each, and a photo is recognised from every 16th pixel.

    >>> colour_count(np.array([[[0, 0, 0], [255, 0, 0], [0, 0, 0]]], np.uint8))
    2
    """
    packed = np.zeros(array.shape[:2], np.uint32)  # [H, W]
    for c in range(array.shape[2]):
        packed = (packed << 8) | array[:, :, c]
    flat = packed.ravel()  # [H*W]
    if len(np.unique(flat[::16])) >= enough:
        return enough
    return min(len(np.unique(flat)), enough)


def otsu_level(gray: np.ndarray) -> float:
    """The grey level that best splits `gray` in two classes (Otsu), so thin lines survive shrinking.

    >>> otsu_level(np.array([0, 0, 40, 40, 200]))
    40.0
    """
    hist = np.bincount(np.clip(gray, 0, 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(hist * levels)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(np.argmax(between))


def _resize_mask_channel(array: np.ndarray, width: int, height: int) -> np.ndarray:
    rgb = _resample(array[:, :, :3], width, height)
    if array.shape[2] == 3:
        return rgb
    mask = np.asarray(Image.fromarray(array[:, :, 3]).resize((width, height), Image.Resampling.BILINEAR))
    mask = np.where(mask > 127, 255, 0).astype(np.uint8)
    return np.concatenate([rgb, mask[:, :, None]], axis=2)  # [H, W, 4]


def fit_map(detected: np.ndarray, width: int, height: int, mode: ResizeMode) -> np.ndarray:
    """The detected map at exactly width×height, by `mode`.

    >>> m = np.zeros((100, 200, 3), np.uint8)
    >>> [fit_map(m, 64, 64, r).shape for r in ResizeMode]
    [(64, 64, 3), (64, 64, 3), (64, 64, 3)]
    """
    detected = np.asarray(detected)
    if detected.ndim == 2:
        detected = np.repeat(detected[:, :, None], 3, axis=2)
    if mode == ResizeMode.JUST_RESIZE:
        return _resize_mask_channel(detected, width, height)
    old_h, old_w = detected.shape[:2]
    k_h, k_w = height / old_h, width / old_w
    if mode == ResizeMode.RESIZE_AND_FILL:
        k = min(k_h, k_w)
        border = np.concatenate([detected[0], detected[-1], detected[:, 0], detected[:, -1]], axis=0)  # [N, C]
        colour = np.median(border, axis=0).astype(np.uint8)
        if colour.shape[0] == 4:
            colour[3] = 255  # the padding is new area: masked
        inner = _resize_mask_channel(detected, max(1, round(old_w * k)), max(1, round(old_h * k)))
        out = np.tile(colour[None, None], (height, width, 1))  # [H, W, C]
        top, left = (height - inner.shape[0]) // 2, (width - inner.shape[1]) // 2
        out[top:top + inner.shape[0], left:left + inner.shape[1]] = inner
        return out
    k = max(k_h, k_w)
    outer = _resize_mask_channel(detected, max(width, round(old_w * k)), max(height, round(old_h * k)))
    top, left = (outer.shape[0] - height) // 2, (outer.shape[1] - width) // 2
    return np.ascontiguousarray(outer[top:top + height, left:left + width])


def hint_array(fitted: np.ndarray) -> np.ndarray:
    """A fitted map as the ControlNet's input, float32 H×W×3 in [0, 1]; masked pixels of an inpaint map are -1 (the
    value ControlNet inpaint models were trained to read as "to be filled").

    >>> m = np.full((2, 2, 4), 255, np.uint8); m[0, 0, 3] = 0
    >>> hint_array(m)[:, :, 0].tolist()
    [[1.0, -1.0], [-1.0, -1.0]]
    """
    rgb = fitted[:, :, :3].astype(np.float32) / 255.0  # [H, W, 3]
    if fitted.shape[2] == 4:
        rgb[fitted[:, :, 3] > 127] = -1.0
    return rgb
