"""Pure image helpers for the img2img/inpaint/outpaint tabs: the mask from the brush layers, the outpaint canvas.

The inpaint mask comes from the alpha of what the user painted, never from a composite: a composite mixes the brush
colour into the picture, so a white stroke over a white sky would be lost. The Inpaint tab's canvas
(javascript/mask-editor.js) sends its mask as a PNG data URL; `mask_from_data_url` turns it into the request's mask.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image

from modules.errors import InvalidInput

DIRECTIONS = ("left", "right", "up", "down")
PNG_DATA_URL = "data:image/png;base64,"
MAX_MASK_BYTES = 64 * 1024 * 1024  # a 2048² mask PNG is well under 1 MB; more is not something our page sent
MAX_MASK_PIXELS = 4096 * 4096  # the page paints masks of at most 2048 px a side and scales them on the server
ASPECT_TOLERANCE = 0.02  # a mask within 2 % of the picture's aspect ratio is scaled to fit; others are refused
NOTHING_PAINTED = "paint over the part of the image to regenerate"


def as_image(value: Any, field: str) -> Image.Image | None:
    """A picture as Gradio hands it over (PIL, numpy array or file path) as PIL; None stays None. A bad value is an
    InvalidInput that names `field`."""
    if value is None:
        return None
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    if isinstance(value, str):
        try:
            return Image.open(value)
        except (OSError, ValueError) as e:
            raise InvalidInput(field, f"not an image ({e})", "a PNG, JPEG or WebP image") from None
    raise InvalidInput(field, f"expected an image, got {type(value).__name__}")


def required_image(value: Any, field: str, problem: str, valid: str) -> Image.Image:
    """`as_image`, refusing None with `problem` and what would be `valid`."""
    image = as_image(value, field)
    if image is None:
        raise InvalidInput(field, problem, valid)
    return image


def mask_from_layers(layers: Iterable[Any], size: tuple[int, int]) -> Image.Image:
    """White (255) wherever any layer has paint (alpha > 0), black elsewhere; `size` is the background's (w, h).

    >>> layer = Image.new("RGBA", (4, 2)); layer.putpixel((1, 0), (255, 255, 255, 128))
    >>> list(mask_from_layers([layer], (4, 2)).getdata())
    [0, 255, 0, 0, 0, 0, 0, 0]
    """
    painted = np.zeros((size[1], size[0]), dtype=bool)  # [H, W]
    for layer in layers or ():
        image = as_image(layer, "mask layer")
        if image is None:
            continue
        if image.size != size:
            image = image.resize(size, Image.Resampling.NEAREST)
        alpha = np.asarray(image.convert("RGBA"))[..., 3]  # [H, W]
        painted |= alpha > 0
    return Image.fromarray(painted.astype(np.uint8) * 255, mode="L")


def editor_image_and_mask(value: dict | None, field: str) -> tuple[Image.Image, Image.Image]:
    """An ImageMask value {background, layers, composite} → (RGB image, L mask). Refuses an empty canvas."""
    problem, valid = "no image uploaded", "upload an image, then paint over the part to change"
    if not value:
        raise InvalidInput(field, problem, valid)
    background = required_image(value.get("background"), field, problem, valid)
    mask = mask_from_layers(value.get("layers") or [], background.size)
    if not mask.getbbox():
        raise InvalidInput(field, "nothing painted", "paint over the part of the image to regenerate")
    return background.convert("RGB"), mask


def fit_mask(mask: Image.Image, size: tuple[int, int], field: str = "mask") -> Image.Image:
    """`mask` at the picture's `size` (w, h): scaled (nearest, so it stays black and white) when only its
    resolution differs, refused when its shape does, since a stretched mask would cover the wrong part.

    >>> fit_mask(Image.new("L", (64, 32), 255), (128, 64)).size
    (128, 64)
    >>> fit_mask(Image.new("L", (64, 64), 255), (128, 64))
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: mask: the mask is 64×64 but the image is 128×64 (valid: a mask of the image's \
shape: clear the mask and paint it again on this image)
    """
    (mw, mh), (w, h) = mask.size, size
    if (mw, mh) == (w, h):
        return mask
    if abs(mw * h - mh * w) > ASPECT_TOLERANCE * max(mw * h, mh * w):
        raise InvalidInput(field, f"the mask is {mw}×{mh} but the image is {w}×{h}",
                           "a mask of the image's shape: clear the mask and paint it again on this image")
    return mask.resize((w, h), Image.Resampling.NEAREST)


def _decode_png(data: str, field: str) -> Image.Image:
    if not data.startswith(PNG_DATA_URL):
        raise InvalidInput(field, "not a PNG data URL", "the mask painted on the Inpaint canvas")
    payload = data[len(PNG_DATA_URL):]
    if len(payload) > MAX_MASK_BYTES * 4 // 3 + 4:
        raise InvalidInput(field, f"the mask is larger than {MAX_MASK_BYTES // 2**20} MB", "a smaller mask")
    try:
        image = Image.open(io.BytesIO(base64.b64decode(payload, validate=True)))
        if image.width * image.height > MAX_MASK_PIXELS:
            raise InvalidInput(field, f"the mask is {image.width}×{image.height} pixels",
                               f"at most {MAX_MASK_PIXELS} pixels")
        image.load()
    except InvalidInput:
        raise
    except Exception as e:  # binascii.Error, OSError, SyntaxError, DecompressionBombError: all "not a mask"
        raise InvalidInput(field, f"not a readable PNG ({type(e).__name__})", "a PNG image") from None
    return image


def mask_from_data_url(data: str | None, size: tuple[int, int], field: str = "mask") -> Image.Image:
    """The canvas' mask (a PNG data URL; paint = opaque pixels) as an L mask of `size`: 255 where the alpha is at
    least half, 0 elsewhere, so the soft edge the browser draws does not leak a faint mask under the blur.

    >>> png = Image.new("RGBA", (4, 2)); png.putpixel((1, 0), (255, 255, 255, 200))
    >>> png.putpixel((2, 0), (255, 255, 255, 100)); buffer = io.BytesIO(); png.save(buffer, "PNG")
    >>> url = PNG_DATA_URL + base64.b64encode(buffer.getvalue()).decode()
    >>> list(mask_from_data_url(url, (4, 2)).getdata())
    [0, 255, 0, 0, 0, 0, 0, 0]
    >>> mask_from_data_url("", (4, 2))
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: mask: nothing painted (valid: paint over the part of the image to regenerate)
    """
    if not data:
        raise InvalidInput(field, "nothing painted", NOTHING_PAINTED)
    image = _decode_png(data.strip(), field)
    alpha = image.getchannel("A") if "A" in image.getbands() else image.convert("L")
    mask = alpha.point(lambda v: 255 if v >= 128 else 0).convert("L")
    if not mask.getbbox():
        raise InvalidInput(field, "nothing painted", NOTHING_PAINTED)
    return fit_mask(mask, size, field)


def inpaint_image_and_mask(image: Any, mask_data: str | None, field: str = "inpaint") -> tuple[Image.Image,
                                                                                               Image.Image]:
    """The Inpaint tab's uploaded picture and its painted mask as (RGB image, L mask of the image's size)."""
    picture = required_image(image, field, "no image uploaded", "upload an image, then paint over the part to change")
    return picture.convert("RGB"), mask_from_data_url(mask_data, picture.size)


def editor_composite(value: dict | None, field: str) -> Image.Image:
    """A sketch: the picture with the strokes drawn on it."""
    if not value:
        raise InvalidInput(field, "no image", "upload or draw an image")
    picture = value.get("composite") or value.get("background")
    return required_image(picture, field, "no image", "upload or draw an image").convert("RGB")


def uploaded_mask(value: Any, size: tuple[int, int]) -> Image.Image:
    """A mask image the user uploaded: white = repaint; its alpha, when it has one, also hides."""
    image = required_image(value, "mask", "no mask uploaded", "a black-and-white image, white where to repaint")
    if image.mode in ("RGBA", "LA"):
        rgba = np.asarray(image.convert("RGBA")).astype(np.float32)  # [H, W, 4]
        grey = rgba[..., :3].mean(axis=2) * rgba[..., 3] / 255.0
        image = Image.fromarray(grey.clip(0, 255).astype(np.uint8), mode="L")
    image = image.convert("L")
    return image.resize(size, Image.Resampling.LANCZOS) if image.size != size else image


def outpaint_canvas(image: Image.Image, directions: Iterable[str], pixels: int,
                    overlap: int = 8) -> tuple[Image.Image, Image.Image]:
    """Extend `image` by `pixels` on each chosen side; new area = stretched edge pixels (a starting point for
    "original" fill), mask = the new area plus `overlap` pixels into the old one so the seam is repainted.

    >>> canvas, mask = outpaint_canvas(Image.new("RGB", (64, 64), "red"), ["right"], 64)
    >>> canvas.size, mask.getpixel((0, 0)), mask.getpixel((100, 10)), mask.getpixel((60, 10))
    ((128, 64), 0, 255, 255)
    """
    chosen = [d for d in directions if d in DIRECTIONS]
    if not chosen:
        raise InvalidInput("directions", "no direction chosen", ", ".join(DIRECTIONS))
    if pixels <= 0 or pixels % 8:
        raise InvalidInput("pixels", f"{pixels} cannot be used", "a positive multiple of 8")
    left, right = (pixels if "left" in chosen else 0), (pixels if "right" in chosen else 0)
    top, bottom = (pixels if "up" in chosen else 0), (pixels if "down" in chosen else 0)
    src = np.asarray(image.convert("RGB"))  # [H, W, 3]
    padded = np.pad(src, ((top, bottom), (left, right), (0, 0)), mode="edge")  # [H+t+b, W+l+r, 3]
    mask = np.full(padded.shape[:2], 255, dtype=np.uint8)  # [H', W']
    h, w = src.shape[:2]
    keep_top, keep_left = top + (overlap if top else 0), left + (overlap if left else 0)
    keep_bottom, keep_right = top + h - (overlap if bottom else 0), left + w - (overlap if right else 0)
    mask[keep_top:keep_bottom, keep_left:keep_right] = 0
    return Image.fromarray(padded), Image.fromarray(mask, mode="L")


def preview_canvas(canvas: Image.Image, mask: Image.Image) -> Image.Image:
    """The extended canvas with the area to be generated tinted, for the Outpaint tab's preview."""
    tint = Image.new("RGB", canvas.size, (255, 140, 0))
    return Image.composite(Image.blend(canvas, tint, 0.5), canvas, mask)
