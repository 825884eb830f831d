"""A1111's resize modes: sizes, centring, crop and fill behaviour, upscaler hand-off, bad modes."""
import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.resize import resize_image, resize_mode_index


def striped(width=100, height=50):
    """Left half red, right half blue; top row green (to see the fill bars)."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:, : width // 2] = (255, 0, 0)
    a[:, width // 2:] = (0, 0, 255)
    a[0] = (0, 255, 0)
    return Image.fromarray(a)


@pytest.mark.parametrize("mode", [0, 1, 2, 3, "Just resize", "Crop and resize", "Resize and fill"])
def test_every_mode_gives_the_requested_size(mode):
    assert resize_image(mode, striped(), 64, 48).size == (64, 48)


def test_crop_and_resize_cuts_the_sides_of_a_wide_image():
    out = np.asarray(resize_image(1, striped(100, 50), 64, 64))
    # scaled to 128x64 and centred: the visible part is the middle, half red half blue
    assert tuple(out[32, 2]) == (255, 0, 0) and tuple(out[32, 61]) == (0, 0, 255)
    assert tuple(out[0, 32]) != (0, 0, 0)  # no black bars


def test_resize_and_fill_stretches_edge_rows_into_the_bars():
    out = np.asarray(resize_image(2, striped(100, 50), 64, 64))
    # fitted to 64x32 at rows 16..47; the bar above copies the (green) top row
    assert tuple(out[0, 5]) == tuple(out[15, 5]) and out[0, 5, 1] > 150
    assert not (out == 0).all(axis=2).any()  # nothing left black


def test_upscaler_used_only_when_enlarging():
    calls = []

    def upscale(image, scale):
        calls.append(scale)
        return image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)

    resize_image(0, striped(32, 32), 64, 64, upscale)
    resize_image(0, striped(32, 32), 16, 16, upscale)
    resize_image(0, Image.new("L", (32, 32)), 64, 64, upscale)  # masks never go through an upscaler
    assert calls == [2.0]


def test_bad_mode_and_size_are_named():
    with pytest.raises(InvalidInput, match="resize_mode"):
        resize_mode_index(7)
    with pytest.raises(InvalidInput, match="size"):
        resize_image(0, striped(), 0, 10)
