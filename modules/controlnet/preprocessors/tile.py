"""Tile, blur, shuffle and inpaint preprocessors: no network weights; images are uint8 [H, W, 3]."""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from modules.controlnet.preprocessors.edges import scale_short_side
from modules.controlnet.preprocessors.registry import Params


def tile_resample(image: np.ndarray, p: Params) -> np.ndarray:
    """The image shrunk by the down sampling rate (threshold_a, 1 to 8; below 1.1 it is kept as is), so the tile
    model adds detail to a softer copy."""
    if p.a < 1.1:
        return image
    h, w = image.shape[:2]
    size = (max(1, int(w / p.a)), max(1, int(h / p.a)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))


def blur_gaussian(image: np.ndarray, p: Params) -> np.ndarray:
    """A Gaussian blur of σ = threshold_a pixels, at the preprocessor resolution."""
    img = scale_short_side(image, p.resolution).astype(np.float32)
    return np.clip(ndimage.gaussian_filter(img, sigma=(p.a, p.a, 0)), 0, 255).round().astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int = 256) -> np.ndarray:
    """Smooth noise in [0, 1]: a coarse random grid (one value per `cell` pixels, plus margins) upscaled bicubically."""
    gh, gw = h // cell + 4, w // cell + 4
    coarse = rng.random((gh, gw)).astype(np.float32)
    big = np.asarray(Image.fromarray(coarse, mode="F").resize((w + 2 * cell, h + 2 * cell), Image.Resampling.BICUBIC))
    big = big[cell:cell + h, cell:cell + w]  # [H, W]
    return (big - big.min()) / max(float(big.max() - big.min()), 1e-6)


def shuffle(image: np.ndarray, p: Params) -> np.ndarray:
    """Content shuffle: every pixel is read from a random, smoothly varying place of the image (seeded), keeping its
    colours and textures but not its layout."""
    img = scale_short_side(image, p.resolution)
    h, w = img.shape[:2]
    xs = _smooth_noise(p.rng, h, w) * (w - 1)  # [H, W] source x
    ys = _smooth_noise(p.rng, h, w) * (h - 1)  # [H, W] source y
    channels = [ndimage.map_coordinates(img[:, :, c].astype(np.float32), [ys, xs], order=1, mode="nearest")
                for c in range(img.shape[2])]
    return np.clip(np.stack(channels, axis=2), 0, 255).round().astype(np.uint8)


def inpaint(image: np.ndarray, p: Params) -> np.ndarray:
    """The image with the unit's mask as alpha (255 = to be filled): the inpaint ControlNet reads masked pixels as -1
    (modules/controlnet/resize.py `hint_array`)."""
    if p.mask is None:
        raise ValueError("inpaint preprocessors need a mask")
    mask = p.mask
    if mask.shape != image.shape[:2]:
        mask = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.Resampling.NEAREST))
    alpha = np.where(mask > 127, 255, 0).astype(np.uint8)
    return np.concatenate([image, alpha[:, :, None]], axis=2)  # [H, W, 4]


def show_inpaint(detected: np.ndarray) -> np.ndarray:
    """A viewable RGB of an inpaint map: the masked area shown darkened."""
    if detected.ndim != 3 or detected.shape[2] != 4:
        return detected
    rgb = detected[:, :, :3].astype(np.float32)
    masked = detected[:, :, 3:] > 127
    return np.where(masked, rgb * 0.35, rgb).astype(np.uint8)
