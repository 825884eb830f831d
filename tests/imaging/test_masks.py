"""Mask preparation: painted masks, blur kernel, crop region maths, fill, latent mask, overlay."""
import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging import masks


def square_mask(size=32, box=(12, 12, 20, 20)):
    m = Image.new("L", (size, size))
    m.paste(255, box)
    return m


def test_blur_spreads_by_the_kernel_radius_only():
    blurred = np.asarray(masks.blur_mask(square_mask(), 2, 2))
    radius = len(masks.gaussian_kernel(2)) // 2  # 5
    assert blurred[16, 16] > 200
    assert blurred[16, 12 - radius] > 0 or blurred[16, 12 - radius + 1] > 0
    assert blurred[16, 12 - radius - 1] == 0 and blurred[12 - radius - 1, 16] == 0


def test_blur_x_only_leaves_columns_sharp():
    blurred = np.asarray(masks.blur_mask(square_mask(), 3, 0))
    assert (blurred[11] == 0).all() and (blurred[12, :4] == 0).all() and blurred[12, 10] > 0


def test_blur_matches_a_gaussian_of_a_delta():
    delta = Image.new("L", (41, 1))
    delta.putpixel((20, 0), 255)
    row = np.asarray(masks.blur_mask(delta, 4, 0), dtype=np.float64)[0]
    kernel = masks.gaussian_kernel(4) * 255
    half = len(kernel) // 2
    assert np.abs(row[20 - half:21 + half] - kernel).max() <= 0.5


def test_crop_region_expanded_keeps_aspect_and_stays_inside():
    box = masks.crop_region(square_mask(64, (50, 10, 62, 14)), pad=4)
    assert box == (46, 6, 64, 18)
    x1, y1, x2, y2 = masks.expand_crop_region(box, 64, 64, 64, 64)
    assert x2 - x1 == y2 - y1 == 18 and x1 >= 0 and x2 <= 64


def test_fill_replaces_masked_area_with_surrounding_colour():
    image = Image.new("RGB", (32, 32), (200, 40, 40))
    image.paste((0, 0, 255), (12, 12, 20, 20))
    filled = np.asarray(masks.fill_masked(image, square_mask()))
    assert abs(int(filled[16, 16, 0]) - 200) < 10 and abs(int(filled[16, 16, 2]) - 40) < 10
    assert tuple(filled[0, 0]) == (200, 40, 40)


def test_latent_mask_is_binary_and_small():
    lat = masks.latent_mask(square_mask(64, (16, 16, 48, 48)), 8, 8)
    assert lat.shape == (8, 8) and set(np.unique(lat)) == {0.0, 1.0} and lat[4, 4] == 1 and lat[0, 0] == 0


def test_overlay_restores_kept_pixels_exactly():
    rng = np.random.default_rng(0)
    original = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    generated = Image.new("RGB", (32, 32), (1, 2, 3))
    mask = square_mask()
    out = np.asarray(masks.apply_overlay(generated, masks.overlay_for(original, mask)))
    keep = np.asarray(mask) == 0
    assert (out[keep] == np.asarray(original)[keep]).all()
    assert tuple(out[16, 16]) == (1, 2, 3)


def test_uncrop_puts_a_crop_back_in_place():
    original = Image.new("RGB", (40, 40), (10, 10, 10))
    mask = square_mask(40, (8, 8, 16, 16))
    crop_result = Image.new("RGB", (64, 64), (250, 0, 0))
    out = np.asarray(masks.apply_overlay(crop_result, masks.overlay_for(original, mask), (8, 8, 16, 16)))
    assert tuple(out[12, 12]) == (250, 0, 0) and tuple(out[30, 30]) == (10, 10, 10)


def test_painted_mask_and_mismatched_size_and_empty():
    fitted, note = masks.fit_mask(Image.new("L", (10, 10), 255), (20, 20))
    assert fitted.size == (20, 20) and "resized" in note
    assert masks.fit_mask(fitted, (20, 20))[1] is None
    with pytest.raises(InvalidInput, match="mask.*empty"):
        masks.check_mask(Image.new("L", (8, 8)))
    masks.check_mask(Image.new("L", (8, 8), 255))
