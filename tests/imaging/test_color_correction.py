"""img2img colour correction maths (modules/imaging/color_correction.py): LAB as OpenCV stores it, histogram
matching as scikit-image does it, the luminosity blend as `blendmodes` does it."""
import numpy as np
import pytest
from PIL import Image

from modules.imaging.color_correction import (color_correct, correction_target, lab_to_rgb, luminosity_blend,
                                              match_channel, match_histograms, rgb_to_lab)


def random_rgb(seed=0, shape=(16, 24, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_lab_round_trip_is_within_rounding():
    rgb = random_rgb()
    back = lab_to_rgb(rgb_to_lab(rgb))
    error = np.abs(back.astype(int) - rgb)
    assert error.mean() < 0.7 and error.max() <= 12  # 8-bit LAB is coarse for dark, saturated colours
    assert lab_to_rgb(np.array([[[255, 128, 128], [0, 128, 128]]], np.uint8)).tolist() == [[[255] * 3, [0] * 3]]


def test_known_lab_values_of_opencv():
    colours = np.array([[[0, 255, 0], [0, 0, 255], [128, 128, 128]]], dtype=np.uint8)
    assert rgb_to_lab(colours).tolist() == [[[224, 42, 211], [82, 207, 20], [137, 128, 128]]]


def test_histogram_matching_takes_the_reference_distribution():
    source = np.repeat(np.arange(4, dtype=np.uint8), 25)  # 0..3, equally often
    reference = np.repeat(np.array([50, 100, 150, 200], dtype=np.uint8), 25)
    assert sorted(set(match_channel(source, reference).tolist())) == [50, 100, 150, 200]
    image = random_rgb(1)
    assert (match_histograms(image, image) == image).all()  # an image already matching stays as it is
    flat = np.full((4, 4, 3), 77, dtype=np.uint8)
    assert (match_histograms(image, flat) == 77).all()


def test_matching_truncates_like_an_integer_store():
    source = np.array([0, 255], dtype=np.uint8)  # quantiles 0.5, 1
    reference = np.array([10, 10, 11, 13], dtype=np.uint8)  # quantiles 0.5 (10), 0.75 (11), 1 (13)
    assert match_channel(source, reference).tolist() == [10, 13]
    source = np.array([0, 0, 0, 255], dtype=np.uint8)  # 0.75 → 11; 1 → 13
    assert match_channel(source, np.array([10, 12, 12, 14], np.uint8)).tolist() == [12, 12, 12, 14]


def test_luminosity_blend_keeps_colour_takes_luminosity():
    grey = np.full((1, 1, 3), 0.2)
    assert np.allclose(luminosity_blend(grey, np.full((1, 1, 3), 0.7)), 0.7)
    red = np.array([[[1.0, 0.0, 0.0]]])
    out = luminosity_blend(red, np.full((1, 1, 3), 0.9))  # pushed past 1: pulled back towards its luminosity
    assert out.max() <= 1 + 1e-9 and np.isclose(out[0, 0] @ [0.299, 0.587, 0.114], 0.9)
    assert out[0, 0, 0] > out[0, 0, 1] == pytest.approx(out[0, 0, 2])  # still a red


def test_color_correct_moves_colours_toward_the_target():
    warm = np.zeros((32, 32, 3), dtype=np.uint8)
    warm[..., 0], warm[..., 1], warm[..., 2] = 200, 120, 60  # orange init image
    result = Image.fromarray(random_rgb(2, (32, 32, 3)) // 2 + 64)  # grey-ish noise
    corrected = np.asarray(color_correct(result, correction_target(Image.fromarray(warm)))).astype(int)
    before = np.asarray(result).astype(int)
    assert corrected[..., 0].mean() - corrected[..., 2].mean() > 60  # now red over blue, as the target
    assert abs(before.mean() - corrected.mean()) < 25  # luminosity kept (the blend)


def test_against_scikit_image_when_installed():
    exposure = pytest.importorskip("skimage.exposure")
    image, reference = random_rgb(3), random_rgb(4, (20, 10, 3)) // 3
    expected = exposure.match_histograms(image, reference, channel_axis=2)
    assert (match_histograms(image, reference) == expected).all()
