"""The built-in img2img scripts (Loopback, SD upscale, Poor man's outpainting, Outpainting mk2): their pure parts,
and runs on the tiny model through App.img2img."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from PIL import Image

from modules.extensions.compat import binding
from modules.pipeline.img2img_request import Img2ImgRequest
from tests.extensions.conftest import load_builtin

SCRIPTS = ["loopback/scripts/loopback.py", "sd-upscale/scripts/sd_upscale.py",
           "poor-mans-outpainting/scripts/poor_mans_outpainting.py", "outpainting-mk2/scripts/outpainting_mk_2.py"]
INIT = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
BASE = dict(prompt="a cube", steps=2, width=64, height=64, seed=5, sampler_name="Euler", init_images=(INIT,),
            denoising_strength=0.5)


def load(path: str):
    return load_builtin(path)


@pytest.fixture(scope="module")
def app(builtin_app):
    return builtin_app


@pytest.fixture(autouse=True)
def bound(app):
    binding.bind(app, app.scripts)


@pytest.mark.parametrize("path", SCRIPTS)
def test_doctests(path):
    assert doctest.testmod(load(path)).failed == 0


def test_the_scripts_are_offered_on_img2img_only(app):
    img2img = app.scripts.titles("img2img")
    for title in ("Loopback", "SD upscale", "Poor man's outpainting", "Outpainting mk2"):
        assert title in img2img and title not in app.scripts.titles("txt2img")


def test_loopback_feeds_each_result_back_with_a_rising_strength(app):
    result = app.img2img(Img2ImgRequest(**BASE, script_name="Loopback", script_args=[3, 0.9, "Linear", "None"]))
    grid, loops = result.images[0], result.images[1:]
    assert grid.size == (3 * 64, 64) and len(loops) == 3
    assert np.array_equal(np.asarray(grid.crop((128, 0, 192, 64))), np.asarray(loops[2]))
    strengths = [t.split("Denoising strength: ")[1].split(",")[0] for t in result.infotexts[1:]]
    assert strengths == ["0.5", "0.7", "0.9"]
    assert all("Final denoising strength: 0.9, Denoising curve: Linear" in t for t in result.infotexts)
    assert result.all_seeds == [5, 6, 7]


def test_loopback_refuses_interrogation_it_cannot_do(app):
    with pytest.raises(Exception, match="CLIP interrogation is not available"):
        app.img2img(Img2ImgRequest(**BASE, script_name="Loopback", script_args=[2, 0.5, "Linear", "CLIP"]))


def test_sd_upscale_redraws_tiles_of_the_upscaled_image(app):
    result = app.img2img(Img2ImgRequest(**BASE, script_name="SD upscale", script_args=[None, 16, "Lanczos", 2.0]))
    assert [im.size for im in result.images] == [(128, 128)]
    assert "SD upscale overlap: 16, SD upscale upscaler: Lanczos" in result.infotexts[0]
    shared = load("sd-upscale/scripts/sd_upscale.py").shared
    index = [u.name for u in shared.sd_upscalers].index("None")  # by index, as A1111's API clients send it
    same = app.img2img(Img2ImgRequest(**BASE, script_name="SD upscale", script_args=[None, 0, index, 2.0]))
    assert same.images[0].size == (64, 64), "the None upscaler keeps the size: one tile"
    with pytest.raises(Exception, match="unknown upscaler 'Nope'"):
        app.img2img(Img2ImgRequest(**BASE, script_name="SD upscale", script_args=[None, 16, "Nope", 2.0]))


def test_poor_mans_outpainting_grows_the_canvas_and_keeps_the_untouched_tiles(app):
    result = app.img2img(Img2ImgRequest(**BASE, script_name="Poor man's outpainting",
                                        script_args=[32, 4, 1, ["right", "down"]]))
    (out,) = result.images
    assert out.size == (128, 128)
    assert np.array_equal(np.asarray(out)[:32, :32], np.asarray(INIT)[:32, :32])
    assert "Mask blur: 8" in result.infotexts[0]


@pytest.mark.parametrize("sides", [["left", "up"], ["right", "down"]])
def test_outpainting_mk2_extends_each_chosen_side(app, sides):
    result = app.img2img(Img2ImgRequest(**BASE, script_name="Outpainting mk2",
                                        script_args=[None, 32, 4, sides, 1.0, 0.05]))
    (out,) = result.images
    assert out.size == (128, 128) and "Mask blur: 16" in result.infotexts[0]
    corner = np.asarray(out)[:32, :32] if sides[0] == "left" else np.asarray(out)[-32:, -32:]
    assert corner.std() > 0, "the new corner was painted, not left black"


def test_matched_noise_keeps_the_known_pixels():
    images = load("outpainting-mk2/scripts/outpainting_mk_2.py").images
    image = np.asarray(INIT.resize((64, 64))) / 255.0
    mask = np.zeros_like(image)
    mask[:, 48:] = 1.0
    noised = images.get_matched_noise(image, mask, 1.0, 0.05)
    assert np.allclose(noised[:, :48], image[:, :48]) and noised[:, 48:].std() > 0


def test_outpainting_scripts_work_with_the_inpainting_variant(tmp_path, tiny_inpaint_checkpoint):
    """Both outpainting scripts on the 9-channel tiny model (every mode works with it too)."""
    from tests.extensions.conftest import stop
    from tests.pipeline.conftest import make_app

    inpaint_app = make_app(tmp_path, tiny_inpaint_checkpoint)
    try:
        poor = inpaint_app.img2img(Img2ImgRequest(**BASE, script_name="Poor man's outpainting",
                                                  script_args=[32, 4, 1, ["right"]]))
        mk2 = inpaint_app.img2img(Img2ImgRequest(**BASE, script_name="Outpainting mk2",
                                                 script_args=[None, 32, 4, ["down"], 1.0, 0.05]))
    finally:
        stop(inpaint_app)
    # both round the new size up to a multiple of 64, as A1111's do
    assert poor.images[0].size == (128, 64) and "Conditional mask weight" in poor.infotexts[0]
    assert np.array_equal(np.asarray(poor.images[0])[:32, :32], np.asarray(INIT)[:32, :32])
    assert mk2.images[0].size == (64, 128) and "Conditional mask weight" in mk2.infotexts[0]
