"""DDIM, DDIM CFG++ and PLMS, written in sigma space like every other sampler here.

On the training timesteps these are the original samplers exactly: with x = x_vp / sqrt(abar) and
eps = (x - D) / sigma, DDIM's x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - s^2) eps + s z becomes
x_prev = x0 + sqrt(sigma_prev^2 - s_up^2) eps + s_up z, with s_up the ancestral noise of `get_ancestral_step`.
Their usual schedule is the "DDIM" scheduler (timesteps 1, 1 + T/n, ...); a step to sigma = 0 returns x0.
"""
from __future__ import annotations

import torch
from tqdm.auto import trange

from modules.sampling.sampler_utils import default_noise_sampler, get_ancestral_step

CFGPP_SCALE = 1 / 12.5  # A1111 maps CFG 0..12.5 onto CFG++'s guidance 0..1


def _ddim_step(x0, eps, sigma, sigma_next, eta, noise_sampler, s_noise=1.):
    """Song et al. (2021) eq. 12 in sigma form: towards x0 along eps, with eta-scaled fresh noise."""
    if sigma_next == 0:
        return x0
    sigma_dir, sigma_up = get_ancestral_step(sigma, sigma_next, eta=eta)
    x = x0 + eps * sigma_dir
    if eta:
        x = x + noise_sampler(sigma, sigma_next) * s_noise * sigma_up
    return x


@torch.no_grad()
def sample_ddim(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=0., s_noise=1.,
                noise_sampler=None):
    """DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12); eta = 0 is deterministic."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        eps = (x - denoised) / sigmas[i]
        x = _ddim_step(denoised, eps, sigmas[i], sigmas[i + 1], eta, noise_sampler, s_noise)
    return x


@torch.no_grad()
def sample_ddim_cfgpp(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=0., s_noise=1.,
                      noise_sampler=None):
    """DDIM with CFG++ (Chung et al. 2024, arXiv:2406.08070): guided x0, but the unconditional eps for the
    direction back to the next noise level; guidance scale is cfg_scale / 12.5 as in A1111.

    `model` must be a `CFGDenoiser` (it needs the unconditional prediction of every step).
    """
    if not hasattr(model, "guided"):
        raise TypeError("DDIM CFG++ needs a CFG denoiser that also returns the unconditional prediction")
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised, uncond = model.guided(x, sigmas[i] * s_in, scale_multiplier=CFGPP_SCALE, need_uncond=True,
                                        **extra_args)
        uncond = denoised if uncond is None else uncond
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        eps_uncond = (x - uncond) / sigmas[i]
        x = _ddim_step(denoised, eps_uncond, sigmas[i], sigmas[i + 1], eta, noise_sampler, s_noise)
    return x


def _plms_eps(e_t, old_eps):
    """Adams-Bashforth combination of the current and up to three previous eps (Liu et al. 2022 eq. 12)."""
    if len(old_eps) == 1:
        return (3 * e_t - old_eps[-1]) / 2
    if len(old_eps) == 2:
        return (23 * e_t - 16 * old_eps[-1] + 5 * old_eps[-2]) / 12
    return (55 * e_t - 59 * old_eps[-1] + 37 * old_eps[-2] - 9 * old_eps[-3]) / 24


@torch.no_grad()
def sample_plms(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """PLMS (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models"): pseudo linear multistep on eps,
    started by one pseudo improved Euler step (one extra model call)."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    old_eps = []
    for i in trange(len(sigmas) - 1, disable=disable):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        e_t = (x - model(x, sigma * s_in, **extra_args)) / sigma
        if old_eps:
            e_prime = _plms_eps(e_t, old_eps)
        elif sigma_next > 0:  # pseudo improved Euler: average with eps at the Euler-predicted point
            x_next = x + (sigma_next - sigma) * e_t
            e_next = (x_next - model(x_next, sigma_next * s_in, **extra_args)) / sigma_next
            e_prime = (e_t + e_next) / 2
        else:
            e_prime = e_t
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigma, 'sigma_hat': sigma, 'denoised': x - sigma * e_prime})
        x = x + (sigma_next - sigma) * e_prime
        old_eps = (old_eps + [e_t])[-3:]
    return x
