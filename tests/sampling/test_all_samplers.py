"""Every registered sampler runs the way the pipeline runs it, with every scheduler, and few steps."""
import pytest
import torch

from modules.sampling.cfg import CFGDenoiser
from modules.sampling.noise import ImageRNG
from modules.sampling.params import sampler_params
from modules.sampling.registry import SamplerRegistry, scale_initial_noise

from .helpers import ALPHAS, TinyEps

REG = SamplerRegistry()
MODEL = TinyEps(seed=31)
G = torch.Generator().manual_seed(32)
COND, UNCOND = torch.randn(2, 5, 8, generator=G), torch.randn(2, 5, 8, generator=G)


def generate(sampler_name, scheduler=None, steps=6):
    spec, _ = REG.resolve_sampler(sampler_name)
    denoiser = spec.denoiser(MODEL, ALPHAS, "eps")
    sigmas, extras = REG.build_sigmas(spec, scheduler, steps, denoiser)
    rng = ImageRNG((4, 8, 8), [77, 78])
    x = scale_initial_noise(spec, rng.next(), sigmas)
    kwargs, _ = sampler_params(spec)
    if "noise_sampler" in spec.params:
        kwargs["noise_sampler"] = REG.noise_sampler(spec, x, sigmas, rng)
    steps_seen = []
    cfg = CFGDenoiser(denoiser, COND, UNCOND, 5.0, total_steps=spec.total_steps(steps))
    out = spec.function(cfg, x, sigmas, callback=lambda d: steps_seen.append(d["i"]), disable=True, **kwargs)
    return out, sigmas, steps_seen, cfg


@pytest.mark.parametrize("name", [s.name for s in REG.samplers])
def test_each_sampler_denoises_with_its_default_schedule(name):
    out, sigmas, steps_seen, cfg = generate(name)
    assert out.shape == (2, 4, 8, 8) and torch.isfinite(out).all()
    assert out.abs().max() < 1e3  # not blown up (the tiny model is no real denoiser, DPM fast drifts most)
    assert steps_seen and cfg.step >= len(steps_seen)


@pytest.mark.parametrize("scheduler", [s.name for s in REG.schedulers])
@pytest.mark.parametrize("name", ["Euler", "DPM++ 2M SDE", "UniPC", "DDIM"])
def test_every_scheduler_works(name, scheduler):
    out, sigmas, _, _ = generate(name, scheduler, steps=5)
    assert torch.isfinite(out).all() and torch.all(sigmas[:-1] >= sigmas[1:])


@pytest.mark.parametrize("name", [s.name for s in REG.samplers if s.min_steps <= 2])
@pytest.mark.parametrize("steps", [1, 2])
def test_few_steps(name, steps):
    if steps < REG.resolve_sampler(name)[0].min_steps:
        pytest.skip("below the sampler's minimum")
    out, *_ = generate(name, steps=steps)
    assert torch.isfinite(out).all()


def test_second_order_samplers_count_double_steps():
    assert REG.resolve_sampler("Heun")[0].total_steps(10) == 20
    assert REG.resolve_sampler("DPM++ 2M")[0].total_steps(10) == 10
    _, _, steps_seen, cfg = generate("Heun", steps=4)
    assert steps_seen == [0, 1, 2, 3] and cfg.step == 7  # the last step to sigma 0 is Euler
