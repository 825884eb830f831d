"""DDIM, PLMS, UniPC and LCM against diffusers' schedulers on the same eps model and noise (<= 1e-3).

diffusers works in VP space (x_vp, timesteps); ours in sigma space (x = x_vp * sqrt(1 + sigma^2)). Both start from
the same unit noise at the first timestep and end at sigma = 0, where the two coincide.
"""
import pytest
import torch
from diffusers import DDIMScheduler, LCMScheduler, PNDMScheduler, UniPCMultistepScheduler

from modules.sampling import schedules as sch
from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.lcm import LCMDenoiser, sample_lcm
from modules.sampling.timestep import sample_ddim, sample_plms
from modules.sampling.unipc import sample_unipc

from .helpers import ALPHAS, NoiseList, TinyEps

SD = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
SHAPE = (2, 4, 8, 8)
MODEL = TinyEps(seed=11)
COND = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(12))
NOISE = torch.randn(SHAPE, generator=torch.Generator().manual_seed(13))
DEN = DiscreteDenoiser(MODEL, ALPHAS, "eps")


def eps(x_vp, t):
    return MODEL(x_vp, torch.full((x_vp.shape[0],), float(t)), COND)


def ours(fn, sigmas, denoiser=DEN, **kwargs):
    x = NOISE * (1 + sigmas[0] ** 2) ** 0.5  # the VP prior at the first timestep, in sigma space
    return fn(denoiser, x, sigmas, extra_args={"cond": COND}, disable=True, **kwargs)


def theirs(scheduler, step_kwargs=lambda i: {}):
    x = NOISE * scheduler.init_noise_sigma
    for i, t in enumerate(scheduler.timesteps):
        x = scheduler.step(eps(scheduler.scale_model_input(x, t), t), t, x, **step_kwargs(i)).prev_sample
    return x


def leading_sigmas(steps):
    """Sigmas at diffusers' "leading" timesteps (steps_offset 1), then 0."""
    scheduler = DDIMScheduler(**SD, steps_offset=1, timestep_spacing="leading")
    scheduler.set_timesteps(steps)
    return torch.cat([DEN.sigmas[scheduler.timesteps], torch.zeros(1)])


@pytest.mark.parametrize("steps", [4, 10, 25, 50])
def test_ddim_schedule_is_diffusers_leading_when_steps_divide_1000(steps):
    assert torch.equal(sch.ddim_uniform(steps, 0, 0, DEN), leading_sigmas(steps))


@pytest.mark.parametrize("steps", [5, 15])
@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_ddim_matches_diffusers(steps, eta):
    scheduler = DDIMScheduler(**SD, clip_sample=False, set_alpha_to_one=True, steps_offset=1,
                              timestep_spacing="leading")
    scheduler.set_timesteps(steps)
    noises = NoiseList(SHAPE, seed=21)
    ref = theirs(scheduler, lambda i: {"eta": eta, "variance_noise": noises.noises[i]})
    mine = ours(sample_ddim, leading_sigmas(steps), eta=eta, noise_sampler=noises.fresh())
    assert (mine - ref).abs().max() <= 1e-3


@pytest.mark.parametrize("steps", [4, 15])
def test_plms_matches_diffusers_pndm(steps):
    scheduler = PNDMScheduler(**SD, skip_prk_steps=True, set_alpha_to_one=True, steps_offset=1)
    scheduler.set_timesteps(steps)
    ref = theirs(scheduler)
    mine = ours(sample_plms, leading_sigmas(steps))
    assert (mine - ref).abs().max() <= 1e-3


@pytest.mark.parametrize("order,variant", [(1, "bh2"), (2, "bh2"), (2, "bh1"), (3, "bh1"), (3, "bh2")])
@pytest.mark.parametrize("steps", [3, 12])
@pytest.mark.parametrize("final", ["zero", "sigma_min"])
def test_unipc_matches_diffusers(order, variant, steps, final):
    if final == "zero" and variant == "bh1":
        pytest.skip("diffusers' bh1 gives NaN on a final step to sigma 0 (B(h) = -inf); ours returns x0 there")
    scheduler = UniPCMultistepScheduler(**SD, solver_order=order, solver_type=variant, lower_order_final=True,
                                        final_sigmas_type=final)
    scheduler.set_timesteps(steps)
    ref = theirs(scheduler)
    sigmas = torch.as_tensor(scheduler.sigmas, dtype=torch.float32)
    mine = ours(sample_unipc, sigmas, order=order, variant=variant) / (1 + sigmas[-1] ** 2) ** 0.5  # to VP
    assert (mine - ref).abs().max() <= 1e-3


@pytest.mark.parametrize("timesteps", [[999, 759, 499, 259], [999, 679, 339, 19], [799, 399]])
def test_lcm_matches_diffusers(timesteps):
    scheduler = LCMScheduler(**SD, original_inference_steps=50, timestep_scaling=10.0, set_alpha_to_one=True)
    scheduler.set_timesteps(timesteps=timesteps)
    g_theirs, g_ours = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    ref = theirs(scheduler, lambda i: {"generator": g_theirs})
    lcm = LCMDenoiser(MODEL, ALPHAS, "eps")
    sigmas = torch.cat([lcm.sigmas[[(t - 19) // 20 for t in timesteps]], torch.zeros(1)])
    assert torch.equal(lcm.sigma_to_t(sigmas[:-1]), torch.tensor(timesteps))
    x = NOISE * (1 + sigmas[0] ** 2) ** 0.5
    mine = sample_lcm(lcm, x, sigmas, extra_args={"cond": COND}, disable=True,
                      noise_sampler=lambda s, sn: torch.randn(SHAPE, generator=g_ours))
    assert (mine - ref).abs().max() <= 1e-3
