"""Transparency over a background colour (A1111's `images.flatten` and its `img2img_background_color`).

PIL only, apart from `convert`'s tensor code, so that extensions importing A1111's `modules.images` and the page
built with them do not import torch (docs/architecture.md §4).
"""
from __future__ import annotations

from PIL import Image, ImageColor

from modules.errors import InvalidInput

DEFAULT_BACKGROUND = "#ffffff"  # A1111's `img2img_background_color`


def parse_background(color: str) -> tuple[int, int, int]:
    """A colour name or `#rrggbb` as an RGB triple; anything else is refused with what is valid."""
    try:
        return ImageColor.getrgb(color)[:3]
    except (ValueError, AttributeError) as exc:
        raise InvalidInput("background color", f"{color!r} is not a colour", "a name or #rrggbb") from exc


def flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """RGB image with any transparency painted over `background` (A1111's `images.flatten`, for every alpha mode)."""
    if not image.has_transparency_data:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    canvas.paste(rgba, mask=rgba)
    return canvas.convert("RGB")
