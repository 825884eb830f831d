"""Few-step samplers and schedules against the diffusers schedulers their authors publish (<= 1e-4, float32).

Same model output function and the same noise on both sides: diffusers works in VP space (x_vp, timesteps), we work
in sigma space (x = x_vp * sqrt(1 + sigma^2)). The model is the tiny SD1 fixture UNet (a real diffusers
UNet2DConditionModel with random weights) and, for wider sweeps, the tests' small TinyEps.
"""
import pytest
import torch
from diffusers import (DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, LCMScheduler,
                       TCDScheduler)

from modules.errors import InvalidInput
from modules.sampling import few_step_schedules as few
from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.karras import sample_euler, sample_euler_ancestral
from modules.sampling.lcm import LCMDenoiser, sample_lcm
from modules.sampling.params import sampler_params
from modules.sampling.registry import SamplerRegistry, scale_initial_noise
from modules.sampling.tcd import sample_tcd
from modules.sampling.timestep import sample_ddim
from tests.fixtures.tiny_model import tiny_models, tiny_yaml

from .helpers import ALPHAS, TinyEps

SD = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
SHAPE = (2, 4, 8, 8)
NOISE = torch.randn(SHAPE, generator=torch.Generator().manual_seed(13))
TOL = 1e-4


def _unet_model():
    unet = tiny_models(tiny_yaml(), seed=3)[0].float()
    cond = torch.randn(2, 5, unet.config.cross_attention_dim, generator=torch.Generator().manual_seed(12))

    @torch.no_grad()
    def model(x_vp, t, cond=cond):
        return unet(x_vp, t, encoder_hidden_states=cond).sample  # [B, 4, h, w]
    return model, cond


MODELS = {"unet": _unet_model()}
TINY = TinyEps(seed=11)
MODELS["tiny_eps"] = (TINY, torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(12)))


def theirs(scheduler, name, step_kwargs=dict):
    """diffusers' sampling loop on the model `name`, from the unit noise NOISE."""
    model, cond = MODELS[name]
    x = NOISE * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        t_batch = torch.full((SHAPE[0],), float(t))
        eps = model(scheduler.scale_model_input(x, t), t_batch, cond)
        x = scheduler.step(eps, t, x, **step_kwargs()).prev_sample
    return x


def ours(sampler, denoiser_class, schedule, steps, name, vp_noise=True, **kwargs):
    model, cond = MODELS[name]
    denoiser = denoiser_class(model, ALPHAS, "eps")
    sigmas = schedule(steps, 0, 0, denoiser)
    x = NOISE * ((1 + sigmas[0] ** 2) ** 0.5 if vp_noise else sigmas[0])
    return sampler(denoiser, x, sigmas, extra_args={"cond": cond}, disable=True, **kwargs)


def seeded(seed):
    generator = torch.Generator().manual_seed(seed)
    return generator, lambda sigma, sigma_next: torch.randn(SHAPE, generator=generator)


# ---- schedules ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [1, 2, 3, 4, 6, 8, 13, 50])
def test_lcm_schedule_picks_diffusers_lcm_and_tcd_timesteps(steps):
    for scheduler in (LCMScheduler(**SD), TCDScheduler(**SD)):
        scheduler.set_timesteps(steps)
        assert few.lcm_timesteps(steps) == scheduler.timesteps.tolist()
    lcm = LCMDenoiser(TINY, ALPHAS, "eps")
    sigmas = few.lcm(steps, 0, 0, lcm)
    assert lcm.sigma_to_t(sigmas[:-1]).tolist() == few.lcm_timesteps(steps) and sigmas[-1] == 0


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 6, 7, 8, 16])
def test_trailing_schedule_is_diffusers_trailing_spacing(steps):
    scheduler = EulerDiscreteScheduler(**SD, timestep_spacing="trailing")
    scheduler.set_timesteps(steps)
    assert few.trailing_timesteps(steps) == scheduler.timesteps.tolist()
    sigmas = few.trailing(steps, 0, 0, DiscreteDenoiser(TINY, ALPHAS, "eps"))
    assert torch.allclose(sigmas, scheduler.sigmas.float(), rtol=1e-5, atol=0)


def test_lcm_schedule_refuses_more_steps_than_distillation_timesteps():
    registry = SamplerRegistry()
    with pytest.raises(InvalidInput, match="steps: 51 steps cannot be picked"):
        registry.build_sigmas("LCM", "LCM", 51, LCMDenoiser(TINY, ALPHAS, "eps"))


def test_rows_resolve_with_their_defaults():
    registry = SamplerRegistry()
    tcd, _ = registry.resolve_sampler("TCD")
    assert registry.resolve_scheduler("trailing").label == "Trailing"
    sigmas, extras = registry.build_sigmas(tcd, "Automatic", 4, DiscreteDenoiser(TINY, ALPHAS, "eps"))
    assert extras == {"Schedule type": "LCM"}
    assert DiscreteDenoiser(TINY, ALPHAS, "eps").sigma_to_t(sigmas[:-1], quantize=True).tolist() == [999, 759, 499,
                                                                                                    259]
    x = scale_initial_noise(tcd, NOISE, sigmas)  # diffusers' TCD starts from unit noise in VP space
    assert torch.allclose(x, NOISE * (1 + sigmas[0] ** 2) ** 0.5)


def test_tcd_gamma_defaults_to_the_authors_0_3_and_other_values_reach_the_infotext():
    tcd, _ = SamplerRegistry().resolve_sampler("TCD")
    assert sampler_params(tcd, eta_ancestral=1.0, eta_ddim=0.0) == ({"eta": 0.3}, {})
    assert sampler_params(tcd, eta=1.0) == ({"eta": 1.0}, {"Eta": 1.0})


# ---- samplers against diffusers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["unet", "tiny_eps"])
@pytest.mark.parametrize("steps", [1, 2, 4, 8])
def test_lcm_with_lcm_schedule_matches_diffusers_lcm_scheduler(name, steps):
    scheduler = LCMScheduler(**SD, set_alpha_to_one=True)
    scheduler.set_timesteps(steps)
    g_theirs, _ = seeded(5)
    _, noise_sampler = seeded(5)
    ref = theirs(scheduler, name, lambda: {"generator": g_theirs})
    mine = ours(sample_lcm, LCMDenoiser, few.lcm, steps, name, noise_sampler=noise_sampler)
    assert ref.abs().max() > 0.1 and (mine - ref).abs().max() <= TOL


@pytest.mark.parametrize("name", ["unet", "tiny_eps"])
@pytest.mark.parametrize("steps,gamma", [(1, 0.3), (2, 0.0), (4, 0.3), (4, 1.0), (8, 0.5)])
def test_tcd_matches_diffusers_tcd_scheduler(name, steps, gamma):
    """diffusers ends at timestep 0 in VP space; ours at the same point in sigma space (x / sqrt(abar_0))."""
    scheduler = TCDScheduler(**SD)
    scheduler.set_timesteps(steps)
    g_theirs, _ = seeded(7)
    _, noise_sampler = seeded(7)
    ref = theirs(scheduler, name, lambda: {"generator": g_theirs, "eta": gamma}) / ALPHAS[0] ** 0.5
    mine = ours(sample_tcd, DiscreteDenoiser, few.lcm, steps, name, eta=gamma, noise_sampler=noise_sampler)
    assert ref.abs().max() > 0.1 and (mine - ref).abs().max() <= TOL


@pytest.mark.parametrize("name", ["unet", "tiny_eps"])
@pytest.mark.parametrize("steps", [1, 2, 4, 8])
def test_euler_with_trailing_matches_diffusers_lightning_settings(name, steps):
    """SDXL-Lightning / SD-Turbo: diffusers' Euler with trailing timesteps starts at noise * sigma_max."""
    scheduler = EulerDiscreteScheduler(**SD, timestep_spacing="trailing")
    scheduler.set_timesteps(steps)
    ref = theirs(scheduler, name)
    mine = ours(sample_euler, DiscreteDenoiser, few.trailing, steps, name, vp_noise=False)
    assert ref.abs().max() > 0.1 and (mine - ref).abs().max() <= TOL


@pytest.mark.parametrize("name", ["unet", "tiny_eps"])
def test_one_step_euler_a_with_sgm_uniform_is_sd_turbos_diffusers_step(name):
    """SDXL-Turbo ships EulerAncestralDiscreteScheduler with trailing timesteps; for one step A1111's SGM Uniform
    picks the same timestep 999, and no noise is added on a step to sigma 0."""
    scheduler = EulerAncestralDiscreteScheduler(**SD, timestep_spacing="trailing")
    scheduler.set_timesteps(1)
    ref = theirs(scheduler, name, lambda: {"generator": torch.Generator().manual_seed(1)})
    registry = SamplerRegistry()
    model, cond = MODELS[name]
    denoiser = DiscreteDenoiser(model, ALPHAS, "eps")
    sigmas, _ = registry.build_sigmas("Euler a", "SGM Uniform", 1, denoiser)
    mine = sample_euler_ancestral(denoiser, NOISE * sigmas[0], sigmas, extra_args={"cond": cond}, disable=True)
    assert ref.abs().max() > 0.1 and (mine - ref).abs().max() <= TOL


@pytest.mark.parametrize("steps", [1, 2, 4, 8])
def test_ddim_with_trailing_matches_diffusers_hyper_sd_settings(steps):
    """Hyper-SD's N-step LoRAs: diffusers' DDIM with trailing timesteps (here with its final alpha 1, which is
    where our DDIM ends: x0)."""
    scheduler = DDIMScheduler(**SD, timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=False)
    scheduler.set_timesteps(steps)
    ref = theirs(scheduler, "unet")
    mine = ours(sample_ddim, DiscreteDenoiser, few.trailing, steps, "unet")
    assert ref.abs().max() > 0.1 and (mine - ref).abs().max() <= TOL


def test_tcd_refuses_gamma_outside_0_1():
    with pytest.raises(ValueError, match=r"gamma \(eta\) must lie in \[0, 1\]"):
        ours(sample_tcd, DiscreteDenoiser, few.lcm, 2, "tiny_eps", eta=1.5)
