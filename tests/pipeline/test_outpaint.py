"""Outpainting: canvas and mask maths, the core mode on both tiny models, and the two scripts' pure parts."""
import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.outpaint import (Extension, extend_canvas, match_histograms, matched_noise,
                                       outpaint_request, poor_mans_layout)
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a landscape", steps=3, seed=5, denoising_strength=0.8)


def noise_image(size=(128, 128), seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(params=["regular", "inpaint"])
def any_app(request, tmp_path, tiny_checkpoint, tiny_inpaint_checkpoint):
    checkpoint = tiny_checkpoint if request.param == "regular" else tiny_inpaint_checkpoint
    return make_app(tmp_path, checkpoint)


def test_outpaint_right_and_down_keeps_the_original_exactly(any_app):
    source = noise_image()
    req = outpaint_request(Img2ImgRequest(**BASE, init_images=[source]), Extension(right=64, down=32))
    result = any_app.img2img(req)
    out = np.asarray(result.images[0])
    assert result.images[0].size == (192, 160)
    assert np.array_equal(out[:128, :128], np.asarray(source))
    assert np.abs(out[:, 128:].astype(int) - np.asarray(req.init_images[0])[:, 128:]).max() > 0


def test_canvas_fill_and_mask():
    source = Image.new("RGB", (16, 8), (200, 50, 20))
    canvas, mask = extend_canvas(source, Extension(left=8, up=16))
    assert canvas.size == mask.size == (24, 24)
    array, m = np.asarray(canvas).astype(int), np.asarray(mask)
    assert (m[16:, 8:] == 0).all() and (m[:16] == 255).all() and (m[:, :8] == 255).all()
    assert (array[16:, 8:] == (200, 50, 20)).all()
    new = array[m == 255]
    assert abs(new[:, 0].mean() - 200) < 10 and new[:, 0].std() > 5  # edge colour plus noise


def test_bad_extensions_are_named():
    with pytest.raises(InvalidInput, match="right.*multiple of 8"):
        Extension(right=30).check()
    with pytest.raises(InvalidInput, match="no side"):
        Extension().check()


def test_poor_mans_layout_rounds_to_64_and_splits_the_growth():
    layout = poor_mans_layout((100, 80), 40, ("left", "right"), mask_blur=4)
    assert layout.size == (192, 128) and layout.offset == (46, 0)
    mask = np.asarray(layout.mask)
    assert mask[64, 46 + 8] == 0 and mask[64, 46 + 7] == 255 and mask[0, 100] == 0
    assert np.asarray(layout.latent_mask)[64, 46 + 2] == 0


def test_matched_noise_keeps_known_pixels_and_matches_their_colours():
    rng = np.random.default_rng(1)
    image = np.zeros((64, 96, 3))
    image[:, :64] = rng.normal([0.7, 0.3, 0.2], 0.05, size=(64, 64, 3)).clip(0, 1)
    mask = np.zeros_like(image)
    mask[:, 64:] = 1.0
    out = matched_noise(image, mask, noise_q=1.0, color_variation=0.05)
    assert np.array_equal(out[:, :64], image[:, :64])
    filled = out[:, 64:].reshape(-1, 3)
    assert np.allclose(filled.mean(axis=0), [0.7, 0.3, 0.2], atol=0.03) and filled.std(axis=0).min() > 0.01
    assert np.array_equal(out, matched_noise(image, mask))


def test_match_histograms_maps_quantiles():
    src = np.linspace(0, 1, 101)[:, None]
    ref = (np.linspace(0, 1, 101) ** 2 * 0.5 + 0.25)[:, None]
    assert np.allclose(np.sort(match_histograms(src, ref)[:, 0]), np.sort(ref[:, 0]), atol=0.02)
