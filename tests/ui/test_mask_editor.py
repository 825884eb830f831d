"""The Inpaint mask editor's server side: the painted mask (a PNG data URL) becomes the request's mask, bad masks
are refused with the field named, and the tab builds with A1111's ids."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.ui.image_inputs import (PNG_DATA_URL, fit_mask, inpaint_image_and_mask, mask_from_data_url)
from modules.ui.mask_editor import toolbar_html


def data_url(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return PNG_DATA_URL + base64.b64encode(buffer.getvalue()).decode()


def stroke(size=(16, 8), box=(2, 2, 6, 5), alpha=255) -> Image.Image:
    """A transparent canvas with one opaque (painted) rectangle, as the browser's canvas exports it."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 255, 255, alpha), box)
    return image


def test_painted_pixels_become_white_and_the_rest_black():
    mask = mask_from_data_url(data_url(stroke()), (16, 8))
    assert mask.mode == "L" and mask.size == (16, 8)
    assert mask.getbbox() == (2, 2, 6, 5)
    assert set(mask.getdata()) == {0, 255}


def test_the_brush_colour_does_not_matter_only_the_paint():
    black_paint = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    black_paint.paste((0, 0, 0, 255), (0, 0, 4, 4))
    assert mask_from_data_url(data_url(black_paint), (8, 8)).getbbox() == (0, 0, 4, 4)


def test_a_soft_edge_below_half_alpha_is_not_mask():
    faint = stroke(alpha=100)  # antialiased fringe only
    with pytest.raises(InvalidInput, match="nothing painted"):
        mask_from_data_url(data_url(faint), (16, 8))


@pytest.mark.parametrize("value", ["", None, data_url(Image.new("RGBA", (16, 8)))])
def test_an_empty_mask_says_nothing_painted(value):
    with pytest.raises(InvalidInput) as caught:
        mask_from_data_url(value, (16, 8))
    assert caught.value.field == "mask" and caught.value.problem == "nothing painted"


def test_a_smaller_mask_of_the_same_shape_is_scaled_to_the_picture():
    """The page paints huge pictures' masks at 2048 px a side; the server scales them back."""
    mask = mask_from_data_url(data_url(stroke()), (160, 80))
    assert mask.size == (160, 80)
    assert mask.getbbox() == (20, 20, 60, 50)
    assert set(mask.getdata()) == {0, 255}


def test_a_mask_of_another_shape_is_refused_naming_both_sizes():
    with pytest.raises(InvalidInput) as caught:
        mask_from_data_url(data_url(stroke((16, 16), (0, 0, 4, 4))), (16, 8))
    assert "16×16" in str(caught.value) and "16×8" in str(caught.value)


def test_rounding_of_a_scaled_mask_is_tolerated():
    assert fit_mask(Image.new("L", (2048, 1229), 255), (5000, 3000)).size == (5000, 3000)


@pytest.mark.parametrize("value, problem", [
    ("data:text/plain;base64,aGVsbG8=", "not a PNG data URL"),
    ("hello", "not a PNG data URL"),
    (PNG_DATA_URL + "%%%not-base64%%%", "not a readable PNG"),
    (PNG_DATA_URL + base64.b64encode(b"just text, no picture").decode(), "not a readable PNG"),
])
def test_non_images_are_refused_with_the_field_named(value, problem):
    with pytest.raises(InvalidInput) as caught:
        mask_from_data_url(value, (16, 8))
    assert caught.value.field == "mask" and problem in caught.value.problem


def test_a_mask_over_the_pixel_limit_is_refused_before_decoding():
    big = Image.new("1", (5000, 5000))  # 25 MP, a few kB as PNG
    with pytest.raises(InvalidInput, match="5000×5000"):
        mask_from_data_url(data_url(big), (5000, 5000))


def test_inpaint_image_and_mask_needs_a_picture_and_returns_rgb():
    with pytest.raises(InvalidInput, match="no image uploaded"):
        inpaint_image_and_mask(None, data_url(stroke()))
    picture = Image.new("RGBA", (16, 8), (10, 20, 30, 255))
    image, mask = inpaint_image_and_mask(picture, data_url(stroke()))
    assert image.mode == "RGB" and mask.size == image.size


def test_init_and_mask_reads_the_painted_field_for_the_inpaint_tab():
    from modules.ui.img2img_tab import init_and_mask

    picture = Image.new("RGB", (16, 8), "red")
    image, mask = init_and_mask("inpaint", None, None, picture, None, None, data_url(stroke()))
    assert image.size == mask.size == (16, 8) and mask.getbbox() == (2, 2, 6, 5)
    with pytest.raises(InvalidInput, match="nothing painted"):
        init_and_mask("inpaint", None, None, picture, None, None, "")


def test_toolbar_has_every_control_the_script_looks_for():
    page = toolbar_html()
    for name in ("brush", "eraser", "undo", "redo", "clear", "size", "size_value", "opacity", "color", "status"):
        assert f'id="img2maskimg_{name}"' in page, name
    script = (Path(__file__).parents[2] / "javascript" / "mask-editor.js").read_text(encoding="utf-8")
    for name in ("brush", "eraser", "undo", "redo", "clear", "size", "opacity", "color", "status", "mask"):
        assert f'"{name}"' in script or f"_{name}" in script, name
