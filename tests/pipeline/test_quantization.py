"""A1111's `enable_quantization`: k-diffusion samplers give the UNet whole training timesteps (the sigma rounded to
the nearest training one); the timestep samplers (DDIM & co.) are left alone, as in A1111."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from modules.pipeline.request import GenerationRequest

BASE = dict(prompt="a red circle", steps=4, width=64, height=64, seed=3, scheduler="Karras")


def timesteps_seen(app, **request) -> tuple[list[float], np.ndarray]:
    model = app.models.get(None)
    seen: list[float] = []
    forward = model.unet_forward

    def spy(x, t, context, *args, **kwargs):
        seen.extend(torch.as_tensor(t).reshape(-1).tolist())
        return forward(x, t, context, *args, **kwargs)

    model.unet_forward = spy
    try:
        result = app.txt2img(GenerationRequest(**{**BASE, **request}))
    finally:
        del model.unet_forward
    return seen, np.asarray(result.images[0], dtype=np.int16)


def test_quantization_gives_whole_timesteps_to_k_diffusion_samplers(app):
    plain, plain_image = timesteps_seen(app, sampler_name="Euler")
    whole, whole_image = timesteps_seen(app, sampler_name="Euler", override_settings={"enable_quantization": True})
    assert any(t != round(t) for t in plain)
    assert all(t == round(t) for t in whole) and len(whole) == len(plain)
    assert not np.array_equal(plain_image, whole_image)


@pytest.mark.parametrize("sampler", ["DDIM", "UniPC"])
def test_timestep_samplers_are_left_alone(app, sampler):
    off = timesteps_seen(app, sampler_name=sampler, scheduler="Automatic")
    on = timesteps_seen(app, sampler_name=sampler, scheduler="Automatic",
                        override_settings={"enable_quantization": True})
    assert off[0] == on[0] and np.array_equal(off[1], on[1])
