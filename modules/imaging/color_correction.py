"""img2img colour correction (A1111's `img2img_color_correction`): the result's colours are matched to the init
image's by per-channel histogram matching in LAB, then the result's own luminosity is put back (a "luminosity"
blend layer).

Numpy only: A1111 uses OpenCV for the LAB conversion, scikit-image for the histogram matching and the `blendmodes`
package for the blend; each is a few lines of arithmetic here, following those libraries' 8-bit conventions (LAB as
OpenCV stores it in uint8: L × 255/100, a and b + 128; sRGB gamma; D65 white).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

# sRGB (linear) → XYZ, D65 (OpenCV's matrix), and the white point it divides by
RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                       [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]])
WHITE = np.array([0.950456, 1.0, 1.088754])
EPSILON, KAPPA = 0.008856, 903.3
LUMA = np.array([0.299, 0.587, 0.114])  # `blendmodes`' luminosity weights


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _gamma(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] → uint8 LAB [H, W, 3] in OpenCV's 8-bit encoding.

    >>> rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8)).tolist()
    [[[255, 128, 128], [0, 128, 128], [136, 208, 195]]]
    """
    xyz = _linear(rgb.astype(np.float64) / 255.0) @ RGB_TO_XYZ.T / WHITE  # [H, W, 3]
    f = np.where(xyz > EPSILON, np.cbrt(xyz), 7.787 * xyz + 16 / 116)  # [H, W, 3]
    lightness = np.where(xyz[..., 1] > EPSILON, 116 * f[..., 1] - 16, KAPPA * xyz[..., 1])  # [H, W]
    lab = np.stack([lightness * 255 / 100, 500 * (f[..., 0] - f[..., 1]) + 128,
                    200 * (f[..., 1] - f[..., 2]) + 128], axis=-1)  # [H, W, 3]
    return np.clip(np.rint(lab), 0, 255).astype(np.uint8)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """uint8 LAB [H, W, 3] (OpenCV's 8-bit encoding) → uint8 RGB [H, W, 3]."""
    lab = lab.astype(np.float64)
    lightness, a, b = lab[..., 0] * 100 / 255, lab[..., 1] - 128, lab[..., 2] - 128  # [H, W] each
    fy = (lightness + 16) / 116
    f = np.stack([fy + a / 500, fy, fy - b / 200], axis=-1)  # [H, W, 3]
    xyz = np.where(f > 6 / 29, f ** 3, (f - 16 / 116) / 7.787)  # [H, W, 3]
    xyz[..., 1] = np.where(lightness > KAPPA * EPSILON, fy ** 3, lightness / KAPPA)
    linear = (xyz * WHITE) @ np.linalg.inv(RGB_TO_XYZ).T  # [H, W, 3]
    return np.clip(np.rint(_gamma(linear) * 255), 0, 255).astype(np.uint8)


def match_channel(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """One uint8 channel remapped so its cumulative histogram follows the reference's (scikit-image's
    `match_histograms` for integer images: quantiles interpolated onto the reference values present, the result
    stored back as uint8, i.e. truncated).

    >>> match_channel(np.array([0, 1, 2, 3], np.uint8), np.array([10, 20, 30, 40], np.uint8)).tolist()
    [10, 20, 30, 40]
    """
    src_counts = np.bincount(source.ravel(), minlength=256)
    ref_counts = np.bincount(reference.ravel(), minlength=256)
    ref_values = np.nonzero(ref_counts)[0]
    src_quantiles = np.cumsum(src_counts) / source.size  # [256]
    ref_quantiles = np.cumsum(ref_counts[ref_values]) / reference.size  # [values present]
    mapped = np.interp(src_quantiles, ref_quantiles, ref_values)  # [256]
    return mapped.astype(np.uint8)[source]


def match_histograms(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """uint8 [H, W, C] matched channel by channel to a uint8 [H', W', C] reference."""
    return np.stack([match_channel(image[..., c], reference[..., c]) for c in range(image.shape[-1])], axis=-1)


def luminosity_blend(colours: np.ndarray, luminosity_of: np.ndarray) -> np.ndarray:
    """`colours`' hue and saturation with the luminosity of `luminosity_of` (both RGB in [0, 1], [H, W, 3]), as the
    `blendmodes` package's LUMINOSITY layer: shift by the luminosity difference, then pull out-of-range colours
    back towards their luminosity."""
    shifted = colours + (luminosity_of @ LUMA - colours @ LUMA)[..., None]  # [H, W, 3]
    lum = (shifted @ LUMA)[..., None]  # [H, W, 1]
    low, high = shifted.min(axis=-1, keepdims=True), shifted.max(axis=-1, keepdims=True)  # [H, W, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(low < 0, lum + (shifted - lum) * lum / (lum - low), shifted)
        # where both sides overflow, `blendmodes` pulls the low-fixed colour in again, by the first range
        return np.where(high > 1, lum + (out - lum) * (1 - lum) / (high - lum), out)


def correction_target(image: Image.Image) -> np.ndarray:
    """The LAB colours to match (A1111's `setup_color_correction`), of the working init image."""
    return rgb_to_lab(np.asarray(image.convert("RGB")))  # [H, W, 3] uint8


def color_correct(image: Image.Image, target: np.ndarray) -> Image.Image:
    """`image` with the colours of `target` (from `correction_target`) and its own luminosity (A1111's
    `apply_color_correction`)."""
    own = np.asarray(image.convert("RGB"))  # [H, W, 3] uint8
    matched = lab_to_rgb(match_histograms(rgb_to_lab(own), target))  # [H, W, 3] uint8
    blended = luminosity_blend(matched / 255.0, own / 255.0)  # [H, W, 3] float
    return Image.fromarray(np.clip(np.rint(blended * 255), 0, 255).astype(np.uint8), mode="RGB")
