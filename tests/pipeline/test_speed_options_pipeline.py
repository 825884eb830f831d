"""The speed options through a whole job: off is today's picture bit for bit, on changes it and says so in the
infotext, the infotext reads back into the same settings, and a ratio out of range is refused naming the field."""
from __future__ import annotations

import numpy as np
import pytest

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=256, height=256, seed=3)
ON = {
    "token_merging_ratio": ({"token_merging_ratio": 0.5}, {"Token merging ratio": "0.5"}),
    "deep_cache_interval": ({"deep_cache_interval": 2}, {"DeepCache interval": "2"}),
    "hypertile": ({"hypertile_enable_unet": True, "hypertile_max_tile_unet": 128},
                  {"Hypertile U-Net": "True", "Hypertile U-Net max tile size": "128"}),
    "hypertile_vae": ({"hypertile_enable_vae": True, "hypertile_swap_size_vae": 1},
                      {"Hypertile VAE": "True", "Hypertile VAE swap size": "1"}),
}


def generate(app, **overrides):
    result = app.txt2img(GenerationRequest(**BASE, override_settings=overrides))
    return np.asarray(result.images[0], dtype=np.int16), result.infotexts[0]


@pytest.fixture(scope="module")
def speed_app(tmp_path_factory, tiny_checkpoint):
    from tests.pipeline.conftest import make_app

    return make_app(tmp_path_factory.mktemp("speed"), tiny_checkpoint)


@pytest.fixture(scope="module")
def baseline(speed_app):
    return generate(speed_app)


@pytest.mark.parametrize("off", [{"token_merging_ratio": 0.0}, {"deep_cache_interval": 1},
                                 {"hypertile_enable_unet": False, "hypertile_max_tile_unet": 128},
                                 {"hypertile_enable_vae": False, "hypertile_max_tile_vae": 256}])
def test_off_is_bit_identical_to_no_option(speed_app, baseline, off):
    image, info = generate(speed_app, **off)
    assert np.array_equal(image, baseline[0]) and info == baseline[1]


@pytest.mark.parametrize("name", list(ON))
def test_each_option_changes_the_picture_and_writes_its_infotext(speed_app, baseline, name):
    overrides, keys = ON[name]
    image, info = generate(speed_app, **overrides)
    assert not np.array_equal(image, baseline[0])
    assert np.abs(image - baseline[0]).mean() < 40  # the same picture, not noise (8-bit levels)
    params = parse_infotext(info)
    assert {k: params.get(k) for k in keys} == keys
    filled = fill_from_infotext({}, set(), info, set())["override_settings"]
    assert {k: filled[k] for k in overrides} == overrides  # pasting the infotext sets the same values


@pytest.mark.parametrize("overrides, written", [
    ({"token_merging_ratio_img2img": 0.4}, "0.4"),
    ({"token_merging_ratio": 0.2, "token_merging_ratio_img2img": 0.4}, "0.2"),  # A1111: the request's main ratio
])
def test_img2img_takes_its_own_ratio(speed_app, baseline, overrides, written):
    from PIL import Image

    init = Image.fromarray(baseline[0].astype(np.uint8))
    req = Img2ImgRequest(prompt="a red circle", steps=4, width=256, height=256, seed=3, init_images=(init,),
                         denoising_strength=0.6, override_settings=overrides)
    info = parse_infotext(speed_app.img2img(req).infotexts[0])
    assert info["Token merging ratio"] == written


def test_hires_pass_writes_its_ratio(speed_app):
    req = GenerationRequest(**{**BASE, "width": 128, "height": 128}, enable_hr=True, hr_scale=2,
                            denoising_strength=0.5, override_settings={"token_merging_ratio_hr": 0.3})
    info = parse_infotext(speed_app.txt2img(req).infotexts[0])
    assert info["Token merging ratio hr"] == "0.3" and "Token merging ratio" not in info


@pytest.mark.parametrize("key, value", [("token_merging_ratio", 0.95), ("token_merging_ratio_hr", -0.5),
                                        ("deep_cache_interval", 0), ("hypertile_max_tile_unet", 1024),
                                        ("hypertile_swap_size_vae", 65), ("hypertile_max_depth_vae", 4)])
def test_out_of_range_settings_are_refused_naming_the_setting(speed_app, key, value):
    with pytest.raises(InvalidInput, match=key):
        speed_app.txt2img(GenerationRequest(**BASE, override_settings={key: value}))


def test_api_answers_422_naming_the_field(tmp_path, tiny_checkpoint):
    from tests.api.conftest import TINY, make_client

    with make_client(tmp_path, tiny_checkpoint) as client:
        r = client.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": {"token_merging_ratio": 1.5}})
    assert r.status_code == 422 and "token_merging_ratio" in r.json()["errors"]


def test_hypertile_for_the_second_pass_only(speed_app):
    """A1111's "second pass" switch: the first pass stays exact, the infotext says the second pass was tiled."""
    hires = dict(enable_hr=True, hr_scale=2, denoising_strength=0.5)
    base = {**BASE, "width": 128, "height": 128}
    plain = speed_app.txt2img(GenerationRequest(**base, **hires))
    tiled = speed_app.txt2img(GenerationRequest(**base, **hires, override_settings={
        "hypertile_enable_unet_secondpass": True, "hypertile_max_tile_unet": 128}))
    info = parse_infotext(tiled.infotexts[0])
    assert info["Hypertile U-Net second pass"] == "True" and "Hypertile U-Net" not in info
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(tiled.images[0]))


def test_vae_tiles_are_seeded_by_the_job(speed_app):
    """The tile counts are drawn from a generator seeded with the job's first seed: the same request gives the
    same batch again, and it differs from the untiled one."""
    req = GenerationRequest(**{**BASE, "batch_size": 2}, override_settings={"hypertile_enable_vae": True})
    first, again = speed_app.txt2img(req), speed_app.txt2img(req)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first.images, again.images))
    plain = speed_app.txt2img(GenerationRequest(**{**BASE, "batch_size": 2}))
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first.images, plain.images))


def test_feature_caching_with_a_second_order_sampler(speed_app):
    """Heun calls the model twice per step: the cache is keyed by step, so both calls of a cached step reuse."""
    req = dict(BASE, sampler_name="Heun")
    plain = np.asarray(speed_app.txt2img(GenerationRequest(**req)).images[0], dtype=np.int16)
    cached = np.asarray(speed_app.txt2img(GenerationRequest(**req, override_settings={"deep_cache_interval": 2}))
                        .images[0], dtype=np.int16)
    assert not np.array_equal(plain, cached) and np.abs(plain - cached).mean() < 40


def test_a1111_processing_object_reports_the_ratio(speed_app):
    """Extensions ask `p.get_token_merging_ratio()` as in A1111 and get what the job would use."""
    from modules.extensions.compat import binding
    from modules.extensions.compat.processing import (StableDiffusionProcessingImg2Img,
                                                      StableDiffusionProcessingTxt2Img)

    binding.bind(speed_app, speed_app.scripts)
    p = StableDiffusionProcessingTxt2Img()
    p.override_settings = {"token_merging_ratio": 0.3, "token_merging_ratio_hr": 0.6}
    assert p.get_token_merging_ratio() == 0.3 and p.get_token_merging_ratio(for_hr=True) == 0.6
    q = StableDiffusionProcessingImg2Img()
    q.override_settings = {"token_merging_ratio_img2img": 0.4}
    assert q.get_token_merging_ratio() == 0.4
