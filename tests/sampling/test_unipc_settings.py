"""A1111's UniPC settings: the skip types' sigmas (schedule type Automatic), order, variant, lower order final.

The sigmas are checked against an independent numpy reading of DPM-Solver's discrete VP schedule (times
(i + 1) / T, log alpha linear in t); the solver against diffusers' UniPCMultistepScheduler on the same sigmas.
"""
import math

import numpy as np
import pytest
import torch
from diffusers import UniPCMultistepScheduler

from modules.errors import InvalidInput
from modules.sampling.params import UniPCSettings, sampler_params
from modules.sampling.registry import SamplerRegistry
from modules.sampling.unipc import _step_order, sample_unipc
from modules.sampling.unipc_schedule import unipc_sigmas

from .helpers import ALPHAS
from .test_diffusers_samplers import DEN, SD, ours, theirs

T = len(ALPHAS)


def numpy_sigmas(n: int, skip_type: str) -> np.ndarray:
    """sigma = sqrt(1/alpha^2 - 1) at the skip type's times, log alpha interpolated with np.interp."""
    log_alpha = 0.5 * np.log(ALPHAS.double().numpy())
    grid = (np.arange(T) + 1) / T
    if skip_type == "time_uniform":
        t = np.linspace(1.0, 1 / T, n + 1)
    elif skip_type == "time_quadratic":
        t = np.linspace(1.0, math.sqrt(1 / T), n + 1) ** 2
    else:
        lam = log_alpha - 0.5 * np.log1p(-np.exp(2 * log_alpha))  # lambda(t), ascending as t falls
        lams = np.linspace(lam[-1], lam[0], n + 1)
        t = np.interp(-0.5 * np.logaddexp(0, -2 * lams), log_alpha[::-1], grid[::-1])
    return np.sqrt(np.expm1(-2 * np.interp(t, grid, log_alpha)))


@pytest.mark.parametrize("skip_type", ["time_uniform", "time_quadratic", "logSNR"])
@pytest.mark.parametrize("n", [3, 20, 37])
def test_skip_type_sigmas(skip_type, n):
    sigmas = unipc_sigmas(n, ALPHAS, skip_type)
    assert sigmas.shape == (n + 1,) and bool((sigmas[1:] < sigmas[:-1]).all())
    assert sigmas[0] == pytest.approx(float(DEN.sigma_max), rel=1e-6)
    assert sigmas[-1] == pytest.approx(float(DEN.sigma_min), rel=1e-6)  # ends at the last training step, not 0
    assert np.allclose(sigmas.double().numpy(), numpy_sigmas(n, skip_type), rtol=1e-5, atol=0)


def test_time_uniform_over_every_training_step_is_the_training_sigmas():
    assert torch.allclose(unipc_sigmas(T - 1, ALPHAS), DEN.sigmas.flip(0), rtol=1e-6, atol=0)


def test_skip_types_differ_and_logsnr_is_log_uniform():
    uniform, quadratic, logsnr = (unipc_sigmas(10, ALPHAS, s) for s in ("time_uniform", "time_quadratic", "logSNR"))
    assert float(logsnr[5]) < float(quadratic[5]) < float(uniform[5])  # 0.65 < 0.74 < 1.6 at the middle step
    ratios = logsnr[1:] / logsnr[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-5)


def test_unknown_skip_type_is_refused_naming_the_setting():
    with pytest.raises(InvalidInput, match="uni_pc_skip_type.*time_uniform, time_quadratic, logSNR"):
        unipc_sigmas(5, ALPHAS, "karras")


def test_automatic_schedule_follows_the_skip_type_and_explicit_types_win():
    reg = SamplerRegistry()
    sigmas, extras = reg.build_sigmas("UniPC", None, 8, DEN, {"uni_pc_skip_type": "logSNR"})
    assert torch.equal(sigmas, unipc_sigmas(8, ALPHAS, "logSNR")) and extras == {}
    karras, extras = reg.build_sigmas("UniPC", "karras", 8, DEN, {"uni_pc_skip_type": "logSNR"})
    assert float(karras[-1]) == 0.0 and extras == {"Schedule type": "Karras"}
    # A1111's timestep samplers take one step more for "always discard next-to-last sigma", dropping none
    longer, extras = reg.build_sigmas("UniPC", None, 8, DEN, {"always_discard_next_to_last_sigma": True})
    assert torch.equal(longer, unipc_sigmas(9, ALPHAS)) and extras == {"Discard penultimate sigma": True}


def test_settings_reach_unipc_only():
    reg = SamplerRegistry()
    settings = UniPCSettings(order=2, variant="bh2", lower_order_final=False)
    unipc, _ = reg.resolve_sampler("UniPC")
    euler, _ = reg.resolve_sampler("Euler")
    assert sampler_params(unipc, uni_pc=settings) == ({"order": 2, "variant": "bh2", "lower_order_final": False}, {})
    assert sampler_params(euler, uni_pc=settings)[0] == {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": math.inf,
                                                         "s_noise": 1.0}


def test_warm_up_orders_as_the_authors_library():
    """Steps below `order` warm up at order i + 1 even when lower_order_final would allow less (A1111's library;
    diffusers caps those too)."""
    assert [_step_order(i, 4, 4, True) for i in range(4)] == [1, 2, 3, 1]
    assert [_step_order(i, 6, 3, False) for i in range(6)] == [1, 2, 3, 3, 3, 3]
    assert [_step_order(i, 6, 2, True) for i in range(6)] == [1, 2, 2, 2, 2, 1]


@pytest.mark.parametrize("order,variant", [(2, "bh1"), (3, "bh2")])
def test_without_lower_order_final_matches_diffusers(order, variant):
    steps = 6
    scheduler = UniPCMultistepScheduler(**SD, solver_order=order, solver_type=variant, lower_order_final=False,
                                        final_sigmas_type="sigma_min")
    scheduler.set_timesteps(steps)
    ref = theirs(scheduler)
    sigmas = torch.as_tensor(scheduler.sigmas, dtype=torch.float32)
    mine = ours(sample_unipc, sigmas, order=order, variant=variant, lower_order_final=False)
    assert (mine / (1 + sigmas[-1] ** 2) ** 0.5 - ref).abs().max() <= 1e-3  # to VP
    with_final = ours(sample_unipc, sigmas, order=order, variant=variant, lower_order_final=True)
    assert (with_final - mine).abs().max() > 1e-3  # the setting changes the last steps


def test_bad_order_and_variant_are_refused_naming_the_setting():
    sigmas = unipc_sigmas(3, ALPHAS)
    with pytest.raises(InvalidInput, match="uni_pc_order"):
        ours(sample_unipc, sigmas, order=0)
    assert torch.equal(ours(sample_unipc, sigmas, order=4), ours(sample_unipc, sigmas, order=3))  # capped at 3
    with pytest.raises(InvalidInput, match="uni_pc_variant.*bh1, bh2"):
        ours(sample_unipc, sigmas, variant="vary_coeff")
