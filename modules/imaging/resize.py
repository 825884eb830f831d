"""A1111's four resize modes for init images and masks (`images.resize_image`), as pure PIL functions.

0 Just resize: stretch to W×H. 1 Crop and resize: scale to cover W×H, centre, cut the overflow.
2 Resize and fill: scale to fit inside W×H, centre, fill the bars by stretching the image's edge rows/columns.
3 Just resize (latent upscale): the pipeline resizes the latent instead; in pixel space it is mode 0.
Scaling up may go through an upscaler (`upscale(image, scale) -> image`, A1111's "Upscaler for img2img");
the last step to the exact size is always Lanczos.
"""
from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from modules.errors import InvalidInput

JUST_RESIZE, CROP_AND_RESIZE, RESIZE_AND_FILL, LATENT_RESIZE = 0, 1, 2, 3
RESIZE_MODES: tuple[str, ...] = ("Just resize", "Crop and resize", "Resize and fill",
                                 "Just resize (latent upscale)")

Upscale = Callable[[Image.Image, float], Image.Image]


def resize_mode_index(mode: int | str) -> int:
    """A mode given as its number or its UI label → the number.

    >>> resize_mode_index("Crop and resize"), resize_mode_index(2)
    (1, 2)
    """
    if isinstance(mode, str) and mode in RESIZE_MODES:
        return RESIZE_MODES.index(mode)
    if isinstance(mode, int) and not isinstance(mode, bool) and 0 <= mode < len(RESIZE_MODES):
        return mode
    valid = ", ".join(f"{i} ({name})" for i, name in enumerate(RESIZE_MODES))
    raise InvalidInput("resize_mode", f"unknown resize mode {mode!r}", valid)


def plain_resize(image: Image.Image, width: int, height: int, upscale: Upscale | None = None) -> Image.Image:
    """Resize to exactly width×height; an upscaler does the enlarging part when given (masks never use it)."""
    if upscale is not None and image.mode not in ("L", "1"):
        scale = max(width / image.width, height / image.height)
        if scale > 1.0:
            image = upscale(image, scale)
    if image.size != (width, height):
        image = image.resize((width, height), resample=Image.Resampling.LANCZOS)
    return image


def fitted_size(src_w: int, src_h: int, width: int, height: int, cover: bool) -> tuple[int, int]:
    """Size of the source scaled to cover (crop mode) or fit inside (fill mode) width×height, A1111's rounding.

    >>> fitted_size(100, 50, 64, 64, cover=True), fitted_size(100, 50, 64, 64, cover=False)
    ((128, 64), (64, 32))
    """
    ratio, src_ratio = width / height, src_w / src_h
    wide = ratio > src_ratio if cover else ratio < src_ratio
    tall = ratio <= src_ratio if cover else ratio >= src_ratio
    return (width if wide else src_w * height // src_h), (height if tall else src_h * width // src_w)


def _centred(canvas: Image.Image, resized: Image.Image) -> tuple[int, int]:
    box = (canvas.width // 2 - resized.width // 2, canvas.height // 2 - resized.height // 2)
    canvas.paste(resized, box=box)
    return box


def crop_and_resize(image: Image.Image, width: int, height: int, upscale: Upscale | None = None) -> Image.Image:
    src_w, src_h = fitted_size(image.width, image.height, width, height, cover=True)
    canvas = Image.new(image.mode, (width, height))
    _centred(canvas, plain_resize(image, src_w, src_h, upscale))
    return canvas


def resize_and_fill(image: Image.Image, width: int, height: int, upscale: Upscale | None = None) -> Image.Image:
    src_w, src_h = fitted_size(image.width, image.height, width, height, cover=False)
    resized = plain_resize(image, src_w, src_h, upscale)
    canvas = Image.new(image.mode, (width, height))
    left, top = _centred(canvas, resized)
    if top > 0:  # bars above and below: stretch the first and last rows
        canvas.paste(resized.resize((width, top), box=(0, 0, width, 0)), box=(0, 0))
        bottom = height - (top + src_h)
        canvas.paste(resized.resize((width, bottom), box=(0, src_h, width, src_h)), box=(0, top + src_h))
    elif left > 0:  # bars left and right: stretch the first and last columns
        canvas.paste(resized.resize((left, height), box=(0, 0, 0, height)), box=(0, 0))
        right = width - (left + src_w)
        canvas.paste(resized.resize((right, height), box=(src_w, 0, src_w, height)), box=(left + src_w, 0))
    return canvas


def resize_image(mode: int | str, image: Image.Image, width: int, height: int,
                 upscale: Upscale | None = None) -> Image.Image:
    """`image` brought to width×height by resize mode `mode` (see the module docstring)."""
    if width < 1 or height < 1:
        raise InvalidInput("size", f"{width}x{height} is empty", "at least 1x1")
    index = resize_mode_index(mode)
    if index == CROP_AND_RESIZE:
        return crop_and_resize(image, width, height, upscale)
    if index == RESIZE_AND_FILL:
        return resize_and_fill(image, width, height, upscale)
    return plain_resize(image, width, height, upscale)
