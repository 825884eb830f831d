"""Outpainting: extend an image past its borders and inpaint the new area, keeping every original pixel.

`extend_canvas` + `outpaint_request` are the core mode (edge colours plus noise under a hard mask, inpainted at
the full canvas size). The maths of A1111's two outpainting scripts live here as pure functions so the scripts
(extension Script API) stay thin: `poor_mans_layout` ("Poor man's outpainting") and `matched_noise`
("Outpainting mk2": noise shaped by the image's FFT magnitude, fall-off exponent, colour variation, histogram-
matched to the known pixels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from modules.errors import InvalidInput
from modules.pipeline.img2img_request import Img2ImgRequest, as_image

ORIGINAL_CONTENT = 1
MAX_EXTEND = 2048


@dataclass(frozen=True)
class Extension:
    """Pixels to add on each side (multiples of 8, so the canvas stays a latent-friendly size)."""

    left: int = 0
    right: int = 0
    up: int = 0
    down: int = 0

    def check(self) -> None:
        for side in ("left", "right", "up", "down"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXTEND or value % 8:
                raise InvalidInput(side, f"{value!r} is not a usable extension",
                                   f"a multiple of 8 from 0 to {MAX_EXTEND}")
        if not (self.left or self.right or self.up or self.down):
            raise InvalidInput("outpaint", "no side to extend", "at least one of left/right/up/down above 0")


def edge_fill(image: np.ndarray, ext: Extension) -> np.ndarray:
    """The image [H, W, 3] padded by repeating its edge pixels (np 'edge' mode) to the extended size."""
    return np.pad(image, ((ext.up, ext.down), (ext.left, ext.right), (0, 0)), mode="edge")


def extend_canvas(image: Image.Image, ext: Extension, seed: int = 0,
                  noise: float = 32.0) -> tuple[Image.Image, Image.Image]:
    """(canvas, mask): the image placed on a larger canvas whose new area holds its edge colours plus Gaussian
    noise of `noise` levels; the mask is white exactly on the new area."""
    ext.check()
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)  # [H, W, 3]
    filled = edge_fill(rgb, ext)  # [H', W', 3]
    new_area = np.ones(filled.shape[:2], dtype=bool)
    new_area[ext.up:ext.up + rgb.shape[0], ext.left:ext.left + rgb.shape[1]] = False
    rng = np.random.default_rng(seed)
    filled[new_area] += rng.normal(0.0, noise, size=(int(new_area.sum()), 3))
    canvas = Image.fromarray(np.clip(np.rint(filled), 0, 255).astype(np.uint8), mode="RGB")
    canvas.paste(image.convert("RGB"), (ext.left, ext.up))  # the original, bit for bit
    mask = Image.fromarray(new_area.astype(np.uint8) * 255, mode="L")
    return canvas, mask


def outpaint_request(req: Img2ImgRequest, ext: Extension) -> Img2ImgRequest:
    """An inpainting request for the extended canvas of the request's first init image.

    The canvas is sampled at its own size ("whole picture", no mask blur, original content): the new area is
    repainted and the overlay restores every original pixel exactly.
    """
    if not req.init_images:
        raise InvalidInput("init_images", "no image to outpaint", "one image")
    image = as_image(req.init_images[0], "init_images[0]")
    canvas, mask = extend_canvas(image, ext, seed=max(req.seed, 0))
    return req.replace(init_images=(canvas,), mask=mask, width=canvas.width, height=canvas.height,
                       resize_mode=0, mask_blur=0, mask_blur_x=0, mask_blur_y=0,
                       inpainting_fill=ORIGINAL_CONTENT, inpaint_full_res=False, inpainting_mask_invert=0)


@dataclass(frozen=True)
class PoorMansLayout:
    """A1111 "Poor man's outpainting": canvas size (multiple of 64), where the image goes, and two masks."""

    size: tuple[int, int]
    offset: tuple[int, int]
    mask: Image.Image  # white = repaint, pulled back 2 × blur into the new area
    latent_mask: Image.Image  # pulled back blur / 2


def poor_mans_layout(size: tuple[int, int], pixels: int, directions: tuple[str, ...], mask_blur: int) -> PoorMansLayout:
    """Canvas and masks for extending an image of `size` by `pixels` towards `directions` (left/right/up/down)."""
    w, h = size
    left, right, up, down = (pixels if d in directions else 0 for d in ("left", "right", "up", "down"))
    target_w, target_h = math.ceil((w + left + right) / 64) * 64, math.ceil((h + up + down) / 64) * 64
    left = left * (target_w - w) // (left + right) if left else 0
    right = target_w - w - left if right else 0
    up = up * (target_h - h) // (up + down) if up else 0
    down = target_h - h - up if down else 0

    def keep_box(margin: int) -> Image.Image:
        mask = Image.new("L", (target_w, target_h), "white")
        ImageDraw.Draw(mask).rectangle((left + (margin if left else 0), up + (margin if up else 0),
                                        target_w - right - (margin if right else 0),
                                        target_h - down - (margin if down else 0)), fill="black")
        return mask

    return PoorMansLayout((target_w, target_h), (left, up), keep_box(mask_blur * 2), keep_box(mask_blur // 2))


def _fft2(data: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D FFT per channel, centred (fftshift before, ifftshift after), as A1111's mk2."""
    return np.fft.ifftshift(np.fft.fft2(np.fft.fftshift(data, axes=(0, 1)), norm="ortho", axes=(0, 1)), axes=(0, 1))


def _ifft2(data: np.ndarray) -> np.ndarray:
    return np.fft.ifftshift(np.fft.ifft2(np.fft.fftshift(data, axes=(0, 1)), norm="ortho", axes=(0, 1)), axes=(0, 1))


def _falloff_window(width: int, height: int, std: float = 3.14) -> np.ndarray:
    """mk2's "mode 1" window: (1 / ((x² + 1)(y² + 1)))^(std / π) over [-1, 1] scaled to the aspect ratio."""
    short = min(width, height)
    x = (np.arange(width) / width * 2.0 - 1.0) * (width / short)  # [W]
    y = (np.arange(height) / height * 2.0 - 1.0) * (height / short)  # [H]
    return (1 / ((x[:, None] ** 2 + 1.0) * (y[None, :] ** 2 + 1.0))) ** (std / 3.14)  # [W, H]


def match_histograms(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per channel, map `source` [N, C] values onto the distribution of `reference` [M, C] (quantile mapping)."""
    out = np.empty_like(source)
    for c in range(source.shape[1]):
        src_values, src_index, src_counts = np.unique(source[:, c], return_inverse=True, return_counts=True)
        ref_values, ref_counts = np.unique(reference[:, c], return_counts=True)
        src_quantiles = np.cumsum(src_counts) / source.shape[0]
        ref_quantiles = np.cumsum(ref_counts) / reference.shape[0]
        out[:, c] = np.interp(src_quantiles, ref_quantiles, ref_values)[src_index.reshape(-1)]
    return out


def matched_noise(image: np.ndarray, mask: np.ndarray, noise_q: float = 1.0, color_variation: float = 0.05,
                  seed: int = 0) -> np.ndarray:
    """mk2's `get_matched_noise`: image [H, W, 3] and mask [H, W, 3] (1 = new area) in [0, 1] → the image with
    its masked part filled by noise whose spectrum follows the known part's (fall-off exponent `noise_q`) and
    whose histogram matches the known pixels. A fixed seed keeps outpainting deterministic."""
    width, height, channels = image.shape
    grey_mask = mask.sum(axis=2) / 3.0  # [W, H]
    fill_area, known = grey_mask > 1e-6, grey_mask < 1e-3
    if not known.any():
        raise InvalidInput("image", "nothing of the image is left outside the mask", "some known pixels")
    windowed = image * (1.0 - mask)
    windowed = windowed / max(float(np.max(windowed)), 1e-8) + np.average(image) * mask
    src_fft = _fft2(windowed)
    src_dist = np.absolute(src_fft)
    src_phase = src_fft / np.maximum(src_dist, 1e-12)
    rng = np.random.default_rng(seed)
    noise = rng.random((width, height, channels))
    grey = noise.sum(axis=2, keepdims=True) / 3.0
    noise = noise * color_variation + (1.0 - color_variation) * grey
    noise = np.real(_ifft2(_fft2(noise) * _falloff_window(width, height)[..., None]))
    shaped = np.real(_ifft2(np.absolute(_fft2(noise)) ** 2 * (src_dist ** noise_q) * src_phase))
    shaped = (shaped - shaped.min()) / max(float(shaped.max() - shaped.min()), 1e-8)
    shaped[fill_area, :] = match_histograms(shaped[fill_area, :], image[known, :])
    return np.clip(image * (1.0 - mask) + shaped * mask, 0.0, 1.0)
