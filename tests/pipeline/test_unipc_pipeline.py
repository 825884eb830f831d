"""A1111's UniPC settings through a whole txt2img job: the skip type sets the timesteps the UNet sees, order and
variant change the picture, nothing is written to the infotext (as in A1111) but pasted keys set the settings,
and values A1111 would fail on are refused naming the setting."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.request import GenerationRequest
from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.unipc_schedule import unipc_sigmas

BASE: dict[str, Any] = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=5,
                            sampler_name="UniPC")


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    from tests.pipeline.conftest import make_app

    return make_app(tmp_path_factory.mktemp("unipc"), tiny_checkpoint)


def run(app, **settings) -> tuple[list[float], np.ndarray, str]:
    """(the UNet timesteps of the first image's calls, the picture, the infotext)."""
    model = app.models.get(None)
    seen: list[float] = []
    forward = model.unet_forward

    def spy(x, t, context, **kwargs):
        seen.append(float(torch.as_tensor(t).reshape(-1)[0]))
        return forward(x, t, context, **kwargs)

    model.unet_forward = spy
    try:
        result = app.txt2img(GenerationRequest(**BASE, override_settings=settings))
    finally:
        del model.unet_forward
    return seen, np.asarray(result.images[0], dtype=np.int16), result.infotexts[0]


@pytest.mark.parametrize("skip_type", ["time_uniform", "logSNR"])
def test_the_skip_type_sets_the_timesteps(app, skip_type):
    seen, _, info = run(app, uni_pc_skip_type=skip_type)
    model = app.models.get(None)
    expected = DiscreteDenoiser(None, model.alphas_cumprod).sigma_to_t(unipc_sigmas(4, model.alphas_cumprod,
                                                                                  skip_type))
    assert seen == pytest.approx(expected[:4].tolist(), abs=1e-3)  # 4 steps, the last one lands on sigma_min
    assert [key for key in parse_infotext(info) if key.startswith("UniPC")] == []


def test_order_and_variant_change_the_picture_and_paste_back(app):
    _, default, info = run(app)
    _, first_order, _ = run(app, uni_pc_order=1)
    _, bh2, _ = run(app, uni_pc_variant="bh2")
    assert not np.array_equal(default, first_order) and not np.array_equal(default, bh2)
    pasted = info + ", UniPC variant: bh2, UniPC skip type: logSNR, UniPC order: 2, UniPC lower order final: False"
    overrides = fill_from_infotext({}, set(), pasted, set())["override_settings"]
    assert {k: overrides[k] for k in ("uni_pc_variant", "uni_pc_skip_type", "uni_pc_order",
                                      "uni_pc_lower_order_final")} == {
        "uni_pc_variant": "bh2", "uni_pc_skip_type": "logSNR", "uni_pc_order": 2, "uni_pc_lower_order_final": False}


def test_an_order_above_the_steps_runs_at_the_step_count(app):
    """A1111's library asserts steps >= order; Easel runs the pass at order = steps instead."""
    _, capped, _ = run(app, uni_pc_order=5)
    _, four, _ = run(app, uni_pc_order=4)
    assert np.array_equal(capped, four)


@pytest.mark.parametrize("settings, message", [
    ({"uni_pc_variant": "vary_coeff"}, "uni_pc_variant: unknown value 'vary_coeff' .*bh1, bh2"),
    ({"uni_pc_skip_type": "karras"}, "uni_pc_skip_type: unknown value 'karras'"),
    ({"uni_pc_order": 0}, "uni_pc_order: 0 is below 1"),
])
def test_bad_values_are_refused_naming_the_setting(app, settings, message):
    with pytest.raises(InvalidInput, match=message):
        app.txt2img(GenerationRequest(**BASE, override_settings=settings))
