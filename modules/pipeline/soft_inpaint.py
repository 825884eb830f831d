"""Soft inpainting (A1111's built-in "Soft Inpainting" by CodeHatchling): a blurred mask is used as an opacity.

During sampling, each step's estimate is blended with the original latent by a per-pixel weight that shrinks with
the noise level: w = nmask ** (sigma ** power * scale), with the blended vectors' lengths interpolated as a
p-norm (p = detail preservation) so partly masked areas keep their contrast. After sampling, the original pixels
are composited back where the result differs little from them (a mask built from latent differences, smoothed
by weighted percentile filters), instead of by the mask alone.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageFilter

from modules.imaging import masks as mk
from modules.imaging.resize import RESIZE_AND_FILL, resize_image
from modules.pipeline.soft_settings import SoftSettings
from modules.sampling.cfg_hooks import AfterCFGParams, CFGHooks, DenoiserParams


def latent_blend(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, detail: float) -> torch.Tensor:
    """(1 - t) a + t b with each vector's length set to the p-norm blend of the two lengths (p = `detail`).

    a, b [B, C, h, w]; t [B, 1, h, w] in [0, 1]. Lengths are computed in float64 (large powers).
    """
    mixed = a * (1 - t) + b * t  # [B, C, h, w]
    length = torch.linalg.vector_norm(mixed, dim=1, keepdim=True).double() + 1e-5  # [B, 1, h, w]
    la = torch.linalg.vector_norm(a, dim=1, keepdim=True).double() ** detail
    lb = torch.linalg.vector_norm(b, dim=1, keepdim=True).double() ** detail
    wanted = (la * (1 - t.double()) + lb * t.double()) ** (1 / detail)
    return mixed * (wanted / length).to(mixed.dtype)


def blend_weight(nmask: torch.Tensor, sigma: torch.Tensor | float, settings: SoftSettings) -> torch.Tensor:
    """Weight of the denoised estimate at this noise level: nmask ** (sigma ** power * scale)."""
    return torch.pow(nmask, (sigma ** settings.mask_blend_power) * settings.mask_blend_scale)


def blend_hooks(settings: SoftSettings, init: torch.Tensor, nmask: torch.Tensor) -> CFGHooks:
    """CFG hooks that replace the hard keep-mask blend by the soft one at every step (sigma read per step)."""
    state: dict[str, torch.Tensor] = {}  # "sigma": this step's noise level, a 0-d tensor

    def remember_sigma(params: DenoiserParams) -> None:
        state["sigma"] = params.sigma[0]

    def blend(params: AfterCFGParams) -> None:
        sigma = state.get("sigma")
        if sigma is None:
            raise RuntimeError("soft inpainting: the after-CFG blend ran before any denoiser call saw a sigma")
        weight = blend_weight(nmask, sigma.to(nmask), settings)  # [B, 1, h, w]
        params.x = latent_blend(init, params.x, weight, settings.inpaint_detail_preservation)

    return CFGHooks(on_denoiser=(remember_sigma,), on_after_cfg=(blend,))


def tapered_gaussian(std: float = 1.5, radius: int = 2) -> np.ndarray:
    """A (2r+1)² Gaussian kernel shifted and rescaled so it is 1 at the centre and 0 one pixel past `radius`."""
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    square = offsets[:, None] ** 2 + offsets[None, :] ** 2  # [K, K]
    zero = np.exp(-((radius + 1.0) ** 2) / std ** 2)
    return np.maximum((np.exp(-square / std ** 2) - zero) / (1 - zero), 0.0)


def percentile_filter(image: np.ndarray, kernel: np.ndarray, low: float, high: float,
                      min_width: float = 1.0) -> np.ndarray:
    """Per pixel, the mean of the neighbours' values lying between the `low` and `high` weighted percentiles
    (kernel weights; neighbours outside the image weigh nothing): a weighted median/mean/max family filter."""
    r = kernel.shape[0] // 2
    height, width = image.shape
    padded = np.pad(image, r)
    inside = np.pad(np.ones_like(image), r)
    values = np.stack([padded[dy:dy + height, dx:dx + width] for dy in range(2 * r + 1)
                       for dx in range(2 * r + 1)], axis=-1)  # [H, W, K²]
    weights = np.stack([inside[dy:dy + height, dx:dx + width] * kernel[dy, dx] for dy in range(2 * r + 1)
                        for dx in range(2 * r + 1)], axis=-1)  # [H, W, K²]
    order = np.argsort(values, axis=-1, kind="stable")
    values, weights = np.take_along_axis(values, order, -1), np.take_along_axis(weights, order, -1)
    top = np.cumsum(weights, axis=-1)  # each sample's stack interval is [top - weight, top)
    total = top[..., -1:]
    w_min, w_max = total * low, total * high
    centre = (w_min + w_max) / 2
    narrow = (w_max - w_min) < min_width
    w_min = np.where(narrow, centre - min_width / 2, w_min)
    w_max = np.where(narrow, centre + min_width / 2, w_max)
    over = narrow & (w_max > total)
    w_min, w_max = np.where(over, total - min_width, w_min), np.where(over, total, w_max)
    under = narrow & (w_min < 0)
    w_min, w_max = np.where(under, 0.0, w_min), np.where(under, min_width, w_max)
    overlap = np.clip(np.minimum(w_max, top) - np.maximum(w_min, top - weights), 0.0, None)  # [H, W, K²]
    amount = overlap.sum(axis=-1)
    return np.where(amount > 0, (values * overlap).sum(axis=-1) / np.maximum(amount, 1e-12), 0.0)


def smootherstep(x: np.ndarray) -> np.ndarray:
    return x * x * x * (x * (6 * x - 15) + 10)


def difference_masks(settings: SoftSettings, nmask: torch.Tensor, original: torch.Tensor, result: torch.Tensor,
                     width: int, height: int) -> list[Image.Image]:
    """Per image, the repaint mask for the final composite at width × height: white where the result moved far
    from the original latent (threshold scaled by the mask as `composite_mask_influence` asks)."""
    soft = nmask[:, 0].float().clamp(0, 1)  # [B, h, w]
    scalar = 1 - soft ** (settings.mask_blend_scale / 2)
    scalar = 0.5 * (1 - settings.composite_mask_influence) + scalar * settings.composite_mask_influence
    scale = (scalar / (1.00001 - scalar)).cpu().numpy()  # [B, h, w]
    distance = torch.linalg.vector_norm(result - original, dim=1).float().cpu().numpy()  # [B, h, w]
    kernel = tapered_gaussian()
    out = []
    for i, dist in enumerate(distance):
        dist = percentile_filter(dist, kernel, 0.9, 1.0)
        dist = percentile_filter(dist, kernel, 0.25, 0.75)
        ratio = dist / (settings.composite_difference_threshold * scale[min(i, len(scale) - 1)])
        keep = smootherstep(1 / (1 + ratio ** settings.composite_difference_contrast))
        mask = Image.fromarray((255.0 * (1 - keep)).astype(np.uint8), mode="L")
        mask = resize_image(RESIZE_AND_FILL, mask, width, height)
        out.append(mask.filter(ImageFilter.GaussianBlur(radius=4)))
    return out


def soft_overlay(original: Image.Image, mask: Image.Image, paste_box) -> Image.Image:
    """The overlay for the final composite: the original image, opaque where `mask` (working size) is black."""
    return mk.overlay_for(original, overlay_mask(mask, original.size, paste_box))


def overlay_mask(mask: Image.Image, size: tuple[int, int], paste_box) -> Image.Image:
    """A working-size difference mask at the output's `size`: put back at its place after an "only masked" crop
    (black around it). A1111's soft inpainting hands this on as the run's mask_for_overlay."""
    return mk.uncrop(mask, size, paste_box).convert("L") if paste_box is not None else mask
