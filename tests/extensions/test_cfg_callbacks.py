"""A1111's on_cfg_denoiser / on_cfg_denoised / on_cfg_after_cfg: the params objects carry A1111's attributes, the
callbacks see every sampling step, and what they change (x, sigma, conds) changes the generation (tiny model)."""
from __future__ import annotations

import importlib

import numpy as np
import torch
import pytest

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=7,
            sampler_name="Euler", cfg_scale=5.0)


@pytest.fixture(scope="module")
def cfg_app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("cfg"), tiny_checkpoint, "--nowebui")
    start(app, [])
    yield app
    app.jobs.close()
    stop(app)


@pytest.fixture
def callbacks(cfg_app):
    from modules.extensions.compat import script_callbacks

    script_callbacks.clear_callbacks()
    yield script_callbacks
    script_callbacks.clear_callbacks()


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0].convert("RGB")).astype(np.int16)


def test_params_carry_a1111_attributes_at_every_step(cfg_app, callbacks):
    seen = []

    def on_denoiser(params):
        d = params.denoiser
        seen.append(dict(step=params.sampling_step, total=params.total_sampling_steps, x=tuple(params.x.shape),
                         sigma=tuple(params.sigma.shape), cond=tuple(params.text_cond.shape),
                         uncond=tuple(params.text_uncond.shape), image_cond=params.image_cond,
                         d_step=d.step, d_steps=d.steps, d_total=d.total_steps, p=d.p, mask=d.mask,
                         inner=d.inner_model is not None, init_latent=d.init_latent))

    denoised, after = [], []
    callbacks.on_cfg_denoiser(on_denoiser)
    callbacks.on_cfg_denoised(lambda p: denoised.append((p.sampling_step, p.total_sampling_steps,
                                                         p.inner_model is not None, tuple(p.x.shape))))
    callbacks.on_cfg_after_cfg(lambda p: after.append((p.sampling_step, p.total_sampling_steps, tuple(p.x.shape))))
    cfg_app.txt2img(GenerationRequest(**BASE))
    assert [s["step"] for s in seen] == [0, 1, 2]
    assert [s["d_step"] for s in seen] == [0, 1, 2]  # the denoiser's own count of model calls
    assert {(s["total"], s["d_steps"], s["d_total"]) for s in seen} == {(3, 3, 3)}
    first = seen[0]
    assert first["x"] == (2, 4, 8, 8) and first["sigma"] == (2,)  # cond rows, then uncond rows
    assert first["cond"][0] == 1 and first["uncond"][0] == 1
    assert first["p"] is not None and first["p"].steps == 3 and first["mask"] is None and first["inner"]
    assert first["init_latent"] is None
    assert first["image_cond"] is not None  # A1111 hands an image_cond (zeros for txt2img) to every model call
    assert denoised == [(0, 3, True, (2, 4, 8, 8)), (1, 3, True, (2, 4, 8, 8)), (2, 3, True, (2, 4, 8, 8))]
    assert after == [(0, 3, (1, 4, 8, 8)), (1, 3, (1, 4, 8, 8)), (2, 3, (1, 4, 8, 8))]


def test_second_order_samplers_see_every_step_in_order(cfg_app, callbacks):
    steps = []
    callbacks.on_cfg_denoiser(lambda p: steps.append(p.sampling_step))
    cfg_app.txt2img(GenerationRequest(**{**BASE, "sampler_name": "Heun", "scheduler": "karras"}))
    assert len(steps) == 5  # two model calls per step, one for the last (to sigma 0)
    assert steps[0] == 0 and steps == sorted(steps) and set(steps) == {0, 1, 2}


@pytest.mark.parametrize("change", ["sigma", "x", "text_cond", "x_inplace"])
def test_changes_in_cfg_denoiser_take_effect(cfg_app, callbacks, change):
    plain = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))

    def on_denoiser(params):
        if change == "sigma":
            params.sigma = params.sigma * 3.0
        elif change == "x":
            params.x = params.x * 0.5
        elif change == "x_inplace":
            params.x *= 0.5
        else:
            params.text_cond = params.text_uncond.clone()

    callbacks.on_cfg_denoiser(on_denoiser)
    changed = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))
    assert np.abs(changed - plain).max() > 8


def test_changes_in_denoised_and_after_cfg_take_effect(cfg_app, callbacks):
    plain = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))

    def on_denoised(params):
        params.x = params.x * 0.2

    callbacks.on_cfg_denoised(on_denoised)
    one = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))
    callbacks.clear_callbacks()

    def on_after(params):
        params.x = params.x.flip(-1)

    callbacks.on_cfg_after_cfg(on_after)
    two = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))
    assert np.abs(one - plain).max() > 8 and np.abs(two - plain).max() > 8


def test_a_failing_cfg_callback_is_reported_once_and_the_generation_goes_on(cfg_app, callbacks):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    callbacks.on_cfg_denoiser(lambda params: 1 / 0)
    result = cfg_app.txt2img(GenerationRequest(**BASE))
    assert len(result.images) == 1
    failures = [f for f in FAILURES.failures if f.hook == "on_cfg_denoiser"]
    assert len(failures) == 1 and "ZeroDivisionError" in failures[0].error


def test_a_replaced_kdiffusion_callback_state_runs_after_every_step(cfg_app, callbacks):
    """ReSharpen and Vectorscope CC replace KDiffusionSampler.callback_state and change d["x"] in place."""
    # an A1111 module, made at run time by the compat layer
    KDiffusionSampler = importlib.import_module("modules.sd_samplers_kdiffusion").KDiffusionSampler

    plain = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))
    original = KDiffusionSampler.callback_state
    seen = []

    def hijack(self, d):
        seen.append((d["i"], self.p.steps, tuple(d["x"].shape), float(d["sigma"]) > 0))
        d["x"] *= 0.5
        return original(self, d)

    KDiffusionSampler.callback_state = hijack
    try:
        changed = pixels(cfg_app.txt2img(GenerationRequest(**BASE)))
    finally:
        KDiffusionSampler.callback_state = original
    assert seen == [(0, 3, (1, 4, 8, 8), True), (1, 3, (1, 4, 8, 8), True), (2, 3, (1, 4, 8, 8), True)]
    assert np.abs(changed - plain).max() > 8
    seen.clear()
    cfg_app.txt2img(GenerationRequest(**BASE))
    assert seen == []  # put back: not called any more


def test_extensions_wrap_process_images_inner_and_read_the_loaded_model(cfg_app, callbacks):
    """ControlNet and ADetailer replace processing.process_images_inner to wrap every generation; tagcomplete and
    Regional Prompter read sd_models.model_data."""
    from modules import processing, sd_models
    from modules.sampling.noise import ImageRNG

    original = processing.process_images_inner
    wrapped = []

    def wrapper(p, *args, **kwargs):
        wrapped.append(p.prompt)
        return original(p, *args, **kwargs)

    processing.process_images_inner = wrapper
    try:
        result = cfg_app.txt2img(GenerationRequest(**BASE))
    finally:
        processing.process_images_inner = original
    assert wrapped == ["a red circle"] and len(result.images) == 1
    assert sd_models.model_data.sd_model is not None and len(sd_models.model_data.loaded_sd_models) == 1
    noise = processing.create_random_tensors((4, 8, 8), [7])
    assert torch.equal(noise, ImageRNG((4, 8, 8), [7], source="gpu").next())
    images = processing.decode_first_stage(None, torch.zeros(1, 4, 8, 8))
    assert images.shape == (1, 3, 64, 64) and images.min() >= -1 and images.max() <= 1
