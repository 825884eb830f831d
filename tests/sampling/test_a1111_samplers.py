"""Samplers A1111 implements itself (Restart, DDIM and DDIM CFG++ on timesteps, LCM's denoiser), against
transcriptions of A1111 1.10's code as the oracle."""
from typing import Any

import pytest
import torch

from modules.sampling.cfg import CFGDenoiser
from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.lcm import LCMDenoiser
from modules.sampling.restart import sample_restart
from modules.sampling.schedules import get_sigmas_karras
from modules.sampling.timestep import sample_ddim, sample_ddim_cfgpp

from .helpers import ALPHAS, NoiseList, TinyEps, load_kdiffusion

KD = load_kdiffusion()
SHAPE = (2, 4, 8, 8)
MODEL = TinyEps(seed=21)
G = torch.Generator().manual_seed(22)
COND, UNCOND = torch.randn(2, 5, 8, generator=G), torch.randn(2, 5, 8, generator=G)
DEN = DiscreteDenoiser(MODEL, ALPHAS, "eps")
NOISE = torch.randn(SHAPE, generator=torch.Generator().manual_seed(23))


def a1111_restart(model, x, sigmas, randn):
    """sd_samplers_extra.restart_sampler (restart_list=None, s_noise=1)."""
    to_d, karras = KD.sampling.to_d, KD.sampling.get_sigmas_karras
    s_in = x.new_ones([x.shape[0]])

    def heun_step(x, old_sigma, new_sigma):
        denoised = model(x, old_sigma * s_in)
        d = to_d(x, old_sigma, denoised)
        dt = new_sigma - old_sigma
        if new_sigma == 0:
            return x + d * dt
        x_2 = x + d * dt
        d_2 = to_d(x_2, new_sigma, model(x_2, new_sigma * s_in))
        return x + (d + d_2) / 2 * dt

    steps = sigmas.shape[0] - 1
    restart_list = {}
    if steps >= 20:
        restart_steps, restart_times = (steps // 4, 2) if steps >= 36 else (9, 1)
        sigmas = karras(steps - restart_steps * restart_times, sigmas[-2].item(), sigmas[0].item())
        restart_list = {0.1: [restart_steps + 1, restart_times, 2]}
    restart_list = {int(torch.argmin(abs(sigmas - key), dim=0)): value for key, value in restart_list.items()}
    step_list = []
    for i in range(len(sigmas) - 1):
        step_list.append((sigmas[i], sigmas[i + 1]))
        if i + 1 in restart_list:
            restart_steps, restart_times, restart_max = restart_list[i + 1]
            min_idx, max_idx = i + 1, int(torch.argmin(abs(sigmas - restart_max), dim=0))
            if max_idx < min_idx:
                sigma_restart = karras(restart_steps, sigmas[min_idx].item(), sigmas[max_idx].item())[:-1]
                while restart_times > 0:
                    restart_times -= 1
                    step_list.extend(zip(sigma_restart[:-1], sigma_restart[1:]))
    last_sigma = None
    for old_sigma, new_sigma in step_list:
        if last_sigma is None:
            last_sigma = old_sigma
        elif last_sigma < old_sigma:
            x = x + randn(x) * (old_sigma ** 2 - last_sigma ** 2) ** 0.5
        x = heun_step(x, old_sigma, new_sigma)
        last_sigma = new_sigma
    return x


@pytest.mark.parametrize("steps", [10, 24, 40])
def test_restart_matches_a1111(steps):
    model = CFGDenoiser(DEN, COND, UNCOND, 5.0)
    sigmas = get_sigmas_karras(steps, float(DEN.sigma_min), float(DEN.sigma_max))
    noises = NoiseList(SHAPE, seed=3)
    seen = []
    mine = sample_restart(model, NOISE * sigmas[0], sigmas, disable=True, noise_sampler=noises.fresh(),
                          callback=seen.append)
    ref = a1111_restart(model, NOISE * sigmas[0], sigmas, noises.fresh().randn_like)
    assert (mine - ref).abs().max() <= 1e-4
    assert len(seen) == steps  # restarts share the step budget


def a1111_ddim(eps_fn, x, timesteps, eta, randn, cfgpp=False):
    """sd_samplers_timesteps_impl.ddim / ddim_cfgpp in VP space; eps_fn(x, t) -> (guided eps, uncond eps)."""
    alphas = ALPHAS[timesteps]
    alphas_prev = ALPHAS[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].double()
    sigmas = eta * ((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev)).sqrt()
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t, e_uncond = eps_fn(x, timesteps[index].item())
        a_t, a_prev, sigma_t = alphas[index].item(), alphas_prev[index].item(), sigmas[index].item()
        pred_x0 = (x - (1 - a_t) ** 0.5 * e_t) / a_t ** 0.5
        dir_xt = (1. - a_prev - sigma_t ** 2) ** 0.5 * (e_uncond if cfgpp else e_t)
        x = a_prev ** 0.5 * pred_x0 + dir_xt + sigma_t * randn(x)
    return x


def guided_eps(scale):
    def eps_fn(x, t):
        t_in = torch.full((x.shape[0],), float(t))
        e_c, e_u = MODEL(x, t_in, COND), MODEL(x, t_in, UNCOND)
        return e_u + scale * (e_c - e_u), e_u
    return eps_fn


@pytest.mark.parametrize("cfgpp", [False, True])
@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_and_cfgpp_match_a1111_timestep_loops(cfgpp, eta):
    steps, cfg_scale = 10, 7.0
    timesteps = torch.clip(torch.arange(0, 1000, 1000 // steps) + 1, 0, 999)  # A1111's get_timesteps
    noises = NoiseList(SHAPE, seed=8)
    scale = cfg_scale / 12.5 if cfgpp else cfg_scale
    ref = a1111_ddim(guided_eps(scale), NOISE, timesteps, eta, noises.fresh().randn_like, cfgpp)
    sigmas = DEN.sigmas[timesteps].flip(0)  # A1111 stops at timestep 1: no final sigma 0 here
    fn = sample_ddim_cfgpp if cfgpp else sample_ddim
    mine = fn(CFGDenoiser(DEN, COND, UNCOND, cfg_scale), NOISE * (1 + sigmas[0] ** 2) ** 0.5, sigmas, disable=True,
              eta=eta, noise_sampler=noises.fresh())
    mine_vp = mine / (1 + sigmas[-1] ** 2) ** 0.5
    assert (mine_vp - ref).abs().max() <= 1e-4


def test_ddim_cfgpp_needs_a_cfg_denoiser():
    with pytest.raises(TypeError):
        sample_ddim_cfgpp(DEN, NOISE, DEN.get_sigmas(3), disable=True)


KD_EPS_DENOISER: Any = KD.external.DiscreteEpsDDPMDenoiser  # a base class loaded at run time (helpers.py)


class A1111LCM(KD_EPS_DENOISER):
    """sd_samplers_lcm.LCMCompVisDenoiser, with the model passed in."""

    def __init__(self, model):
        self.skip_steps = 1000 // 50
        valid = torch.zeros(50)
        for x in range(50):
            valid[50 - 1 - x] = ALPHAS[1000 - 1 - x * self.skip_steps]
        super().__init__(model, valid, quantize=None)

    def get_sigmas(self, n=None):
        start, end = self.sigma_to_t(self.sigma_max), self.sigma_to_t(self.sigma_min)
        return KD.sampling.append_zero(self.t_to_sigma(torch.linspace(start, end, n)))

    def sigma_to_t(self, sigma, quantize=None):
        dists = sigma.log() - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape) * self.skip_steps + (self.skip_steps - 1)

    def t_to_sigma(self, timestep):
        t = torch.clamp(((timestep - (self.skip_steps - 1)) / self.skip_steps).float(), min=0,
                        max=(len(self.sigmas) - 1))
        return super().t_to_sigma(t)

    def forward(self, input, sigma, **kwargs):
        c_out, c_in = [KD.external.utils.append_dims(x, input.ndim) for x in self.get_scalings(sigma)]
        eps = self.get_eps(input * c_in, self.sigma_to_t(sigma), **kwargs)
        out, ts = input + eps * c_out, KD.external.utils.append_dims(self.sigma_to_t(sigma), input.ndim) * 10.0
        return ts / (ts ** 2 + 0.25) ** 0.5 * out + 0.25 / (ts ** 2 + 0.25) * input


@pytest.mark.parametrize("n", [1, 4, 8])
def test_lcm_denoiser_matches_a1111(n):
    ref, mine = A1111LCM(MODEL), LCMDenoiser(MODEL, ALPHAS, "eps")
    assert torch.allclose(mine.get_sigmas(n), ref.get_sigmas(n), atol=1e-6, rtol=1e-6)
    sigma = mine.get_sigmas(n)[:-1][:1].repeat(2)
    x = NOISE * sigma[0]
    assert torch.allclose(mine(x, sigma, cond=COND), ref(x, sigma, cond=COND), atol=1e-5)
