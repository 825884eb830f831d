"""A1111's "SGM noise multiplier" (sgm_noise_multiplier): txt2img starts from noise * sqrt(1 + sigma_max^2) instead
of noise * sigma_max with the k-diffusion samplers, writes `SGM noise multiplier: True`, and reads it back; the
timestep samplers, img2img and the hires fix pass are untouched, as in A1111's KDiffusionSampler.sample."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=11)
ON = {"sgm_noise_multiplier": True}


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    from tests.pipeline.conftest import make_app

    return make_app(tmp_path_factory.mktemp("sgm"), tiny_checkpoint)


def first_unet_input(app, **fields) -> tuple[torch.Tensor, str, np.ndarray]:
    """(the UNet's input on the first model call, the infotext, the picture) of one txt2img run."""
    model = app.models.get(None)
    seen: list[torch.Tensor] = []
    forward = model.unet_forward

    def spy(x, t, context, **kwargs):
        seen.append(x.detach().float().clone())
        return forward(x, t, context, **kwargs)

    model.unet_forward = spy
    try:
        result = app.txt2img(GenerationRequest(**{**BASE, **fields}))
    finally:
        del model.unet_forward
    return seen[0], result.infotexts[0], np.asarray(result.images[0], dtype=np.int16)


def test_euler_starts_from_the_vp_prior_and_says_so(app):
    plain, info_off, image_off = first_unet_input(app, sampler_name="Euler")
    sgm, info_on, image_on = first_unet_input(app, sampler_name="Euler", override_settings=ON)
    abar = app.models.get(None).alphas_cumprod.double()  # [T]
    sigma_max = float(((1 - abar[-1]) / abar[-1]).sqrt())
    # Euler's model input is x / sqrt(1 + s^2): the plain run gives noise * s / sqrt(1 + s^2), the SGM run noise
    ratio = float(sgm.abs().sum() / plain.abs().sum())
    fields = parse_infotext(info_on)
    assert fields["SGM noise multiplier"] == "True" and "SGM noise multiplier" not in info_off
    assert ratio > 1.0005 and not np.array_equal(image_on, image_off)
    assert ratio == pytest.approx(math.sqrt(1 + sigma_max ** 2) / sigma_max, rel=2e-4)
    assert fill_from_infotext({}, set(), info_on, set())["override_settings"]["sgm_noise_multiplier"] is True


def test_timestep_samplers_and_img2img_are_untouched(app):
    _, info_off, image_off = first_unet_input(app, sampler_name="DDIM")
    _, info_on, image_on = first_unet_input(app, sampler_name="DDIM", override_settings=ON)
    assert np.array_equal(image_on, image_off) and info_on == info_off  # A1111's DDIM never reads the setting
    source = app.txt2img(GenerationRequest(**BASE, sampler_name="Euler")).images[0]
    runs = [app.img2img(Img2ImgRequest(**BASE, sampler_name="Euler", init_images=(source,), denoising_strength=0.6,
                                       override_settings=overrides)) for overrides in ({}, ON)]
    assert np.array_equal(np.asarray(runs[0].images[0]), np.asarray(runs[1].images[0]))
    assert "SGM noise multiplier" not in runs[1].infotexts[0]


def test_a_non_boolean_is_refused_naming_the_setting(app):
    with pytest.raises(InvalidInput, match="sgm_noise_multiplier"):
        app.txt2img(GenerationRequest(**BASE, override_settings={"sgm_noise_multiplier": "sometimes"}))
