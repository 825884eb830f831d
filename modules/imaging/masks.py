"""Inpainting masks as A1111 prepares them (`processing.py`, `masking.py`): white = repaint, black = keep.

Pure functions on PIL images and numpy arrays: reading a painted or uploaded mask, separable Gaussian blur with
A1111's kernel size, the "only masked" crop box and its expansion to the working aspect ratio, the "fill" masked
content, the latent mask, and the overlay that puts the original pixels back outside the mask.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from modules.errors import InvalidInput

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 (x2, y2 exclusive, PIL's convention)


def binary_mask(image: Image.Image, round_alpha: bool = True) -> Image.Image:
    """An uploaded or painted mask → 'L'. A painted RGBA layer uses its alpha (A1111's `create_binary_mask`).

    >>> painted = Image.new("RGBA", (2, 1), (0, 0, 0, 0)); painted.putpixel((1, 0), (9, 9, 9, 200))
    >>> list(binary_mask(painted).getdata())
    [0, 255]
    """
    if image.mode == "RGBA" and image.getextrema()[-1] != (255, 255):
        alpha = image.split()[-1].convert("L")
        return alpha.point(lambda v: 255 if v > 128 else 0) if round_alpha else alpha
    return image.convert("L")


def fit_mask(mask: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, str | None]:
    """The mask at the image's size; a different size is stretched to it, with a note saying so."""
    if mask.size == size:
        return mask, None
    note = (f"mask size {mask.width}x{mask.height} differs from the image's {size[0]}x{size[1]}; "
            "the mask was resized to the image")
    return mask.resize(size, resample=Image.Resampling.LANCZOS), note


def check_mask(mask: Image.Image) -> None:
    """An all-black mask asks for nothing to be repainted: refuse it before any work is done."""
    if mask.getbbox() is None:
        raise InvalidInput("mask", "the mask is empty (all black), so there is nothing to repaint",
                           "a mask with white where the image should change")


def gaussian_kernel(sigma: float) -> np.ndarray:
    """OpenCV's kernel for `GaussianBlur(ksize=2*int(2.5*sigma+0.5)+1, sigma)`, as A1111 calls it.

    >>> k = gaussian_kernel(1.0); len(k), round(float(k.sum()), 6)
    (7, 1.0)
    """
    size = 2 * int(2.5 * sigma + 0.5) + 1
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return kernel / kernel.sum()


def _blur_axis(values: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    kernel = gaussian_kernel(sigma)
    half = len(kernel) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (half, half)
    padded = np.pad(values, pad, mode="reflect")  # OpenCV's default border, BORDER_REFLECT_101
    out = np.zeros_like(values)
    for i, weight in enumerate(kernel):
        out += weight * (padded[i:i + values.shape[0], :] if axis == 0 else padded[:, i:i + values.shape[1]])
    return out


def blur_mask(mask: Image.Image, blur_x: float, blur_y: float) -> Image.Image:
    """Separable Gaussian blur, x then y, each skipped at 0 (A1111's mask_blur_x / mask_blur_y)."""
    values = np.asarray(mask.convert("L"), dtype=np.float64)  # [H, W]
    if blur_x > 0 and values.shape[1] > 1:
        values = _blur_axis(values, blur_x, axis=1)
    if blur_y > 0 and values.shape[0] > 1:
        values = _blur_axis(values, blur_y, axis=0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def crop_region(mask: Image.Image, pad: int = 0) -> Box | None:
    """Bounding box of the mask's non-black pixels grown by `pad` and clamped to the image; None if empty.

    >>> m = Image.new("L", (10, 10)); m.paste(255, (4, 4, 6, 6))
    >>> crop_region(m), crop_region(m, 3), crop_region(Image.new("L", (4, 4)))
    ((4, 4, 6, 6), (1, 1, 9, 9), None)
    """
    box = mask.getbbox()
    if box is None:
        return None
    x1, y1, x2, y2 = box
    return max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, mask.width), min(y2 + pad, mask.height)


def _expand_span(a: int, b: int, grow: int, limit: int) -> tuple[int, int]:
    a, b = a - grow // 2, b + grow - grow // 2
    if b >= limit:
        a, b = a - (b - limit), limit
    if a < 0:
        a, b = 0, b - a
    return a, min(b, limit)


def expand_crop_region(box: Box, work_w: int, work_h: int, image_w: int, image_h: int) -> Box:
    """Grow the box to the working size's aspect ratio, staying inside the image (A1111's `expand_crop_region`).

    >>> expand_crop_region((4, 4, 6, 6), 64, 32, 20, 20)
    (3, 4, 7, 6)
    """
    x1, y1, x2, y2 = box
    ratio = work_w / work_h
    if (x2 - x1) / (y2 - y1) > ratio:
        y1, y2 = _expand_span(y1, y2, int((x2 - x1) / ratio - (y2 - y1)), image_h)
    else:
        x1, x2 = _expand_span(x1, x2, int((y2 - y1) * ratio - (x2 - x1)), image_w)
    return x1, y1, x2, y2


def fill_masked(image: Image.Image, mask: Image.Image) -> Image.Image:
    """"fill" masked content: the masked area painted with ever less blurred colours of its surroundings."""
    result = Image.new("RGBA", image.size)
    kept = Image.new("RGBa", image.size)
    kept.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    for radius, repeats in ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)):
        blurred = kept.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            result.alpha_composite(blurred)
    return result.convert("RGB")


def latent_mask(mask: Image.Image, latent_w: int, latent_h: int, round_values: bool = True) -> np.ndarray:
    """The repaint mask at latent size, float32 [h, w] in [0, 1] (rounded to 0/1 unless soft inpainting)."""
    small = np.asarray(mask.convert("RGB").resize((latent_w, latent_h)), dtype=np.float32)[..., 0] / 255.0
    return np.around(small) if round_values else small


def overlay_for(image: Image.Image, overlay_mask: Image.Image) -> Image.Image:
    """The original image with alpha = 255 − mask: composited over a result it restores the kept pixels."""
    kept = Image.new("RGBa", image.size)
    kept.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(overlay_mask.convert("L")))
    return kept.convert("RGBA")


def uncrop(image: Image.Image, size: tuple[int, int], paste_box: Box) -> Image.Image:
    """Put a result made from a crop back at its place on a transparent canvas of the full `size`."""
    x1, y1, x2, y2 = paste_box
    canvas = Image.new("RGBA", size)
    canvas.paste(_cover(image, x2 - x1, y2 - y1), (x1, y1))
    return canvas


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    from modules.imaging.resize import crop_and_resize

    return crop_and_resize(image, width, height)


def apply_overlay(image: Image.Image, overlay: Image.Image | None, paste_box: Box | None = None) -> Image.Image:
    """The final inpainting result: uncropped if it came from a crop, then the original composited on top."""
    if overlay is None:
        return image
    if paste_box is not None:
        image = uncrop(image, overlay.size, paste_box)
    result = image.convert("RGBA")
    result.alpha_composite(overlay)
    return result.convert("RGB")
