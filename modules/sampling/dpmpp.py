"""DPM-Solver++ samplers (Lu et al. 2022, arXiv:2211.01095) in k-diffusion's sigma formulation.

With t = -log(sigma) (the half log-SNR lambda), the data-prediction ODE solution over a step of size h = t_next - t is
x_next = (sigma_next / sigma) x - expm1(-h) D, plus multistep / singlestep corrections.
"""
from __future__ import annotations

import random

import torch
from tqdm.auto import trange

from modules.sampling.noise import BrownianTreeNoise
from modules.sampling.sampler_utils import default_noise_sampler, get_ancestral_step, to_d


def sigma_fn(t):
    return t.neg().exp()


def t_fn(sigma):
    return sigma.log().neg()


@torch.no_grad()
def sample_dpmpp_2m(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """DPM-Solver++(2M), Lu et al. (2022) Algorithm 2: second order from the previous step's denoised."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    old_denoised = None
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised
        else:
            r = (t - t_fn(sigmas[i - 1])) / h  # h_last / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def brownian_noise_sampler(x, sigmas, noise_sampler):
    """The given noise sampler, else Brownian-tree noise with random seeds over the schedule's range."""
    if noise_sampler is not None:
        return noise_sampler
    seeds = [random.randrange(2 ** 63 - 1) for _ in range(x.shape[0])]
    return BrownianTreeNoise(x, sigmas[sigmas > 0].min(), sigmas.max(), seeds)


@torch.no_grad()
def sample_dpmpp_2s_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1., s_noise=1.,
                              noise_sampler=None):
    """Ancestral sampling with DPM-Solver++(2S) steps (Lu et al. 2022, Alg. 1 with r = 1/2)."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        if sigma_down == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = t_fn(sigmas[i]), t_fn(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_2 = (sigma_fn(s) / sigma_fn(t)) * x - (-h / 2).expm1() * denoised
            denoised_2 = model(x_2, sigma_fn(s) * s_in, **extra_args)
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


@torch.no_grad()
def sample_dpmpp_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1., s_noise=1.,
                     noise_sampler=None, r=1 / 2):
    """DPM-Solver++ (stochastic): two ancestral DPM-Solver++ stages per step, at t + r h and t + h."""
    noise_sampler = brownian_noise_sampler(x, sigmas, noise_sampler)
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        if sigmas[i + 1] == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
            continue
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        s = t + h * r
        fac = 1 / (2 * r)
        sd, su = get_ancestral_step(sigma_fn(t), sigma_fn(s), eta)  # stage 1: to t + r h
        s_ = t_fn(sd)
        x_2 = (sigma_fn(s_) / sigma_fn(t)) * x - (t - s_).expm1() * denoised
        x_2 = x_2 + noise_sampler(sigma_fn(t), sigma_fn(s)) * s_noise * su
        denoised_2 = model(x_2, sigma_fn(s) * s_in, **extra_args)
        sd, su = get_ancestral_step(sigma_fn(t), sigma_fn(t_next), eta)  # stage 2: the full step
        t_next_ = t_fn(sd)
        denoised_d = (1 - fac) * denoised + fac * denoised_2
        x = (sigma_fn(t_next_) / sigma_fn(t)) * x - (t - t_next_).expm1() * denoised_d
        x = x + noise_sampler(sigma_fn(t), sigma_fn(t_next)) * s_noise * su
    return x


@torch.no_grad()
def sample_dpmpp_2m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1., s_noise=1.,
                        noise_sampler=None, solver_type='midpoint'):
    """DPM-Solver++(2M) SDE (Lu et al. 2022 sec. 5), with the midpoint or Heun second-order correction."""
    if solver_type not in {'heun', 'midpoint'}:
        raise ValueError("solver_type must be 'heun' or 'midpoint'")
    noise_sampler = brownian_noise_sampler(x, sigmas, noise_sampler)
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    old_denoised, h_last = None, None
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -sigmas[i].log(), -sigmas[i + 1].log()
            h = s - t
            eta_h = eta * h
            phi = (-h - eta_h).expm1().neg()
            x = sigmas[i + 1] / sigmas[i] * (-eta_h).exp() * x + phi * denoised
            if old_denoised is not None:
                r = h_last / h
                if solver_type == 'heun':
                    x = x + (phi / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised)
                else:
                    x = x + 0.5 * phi * (1 / r) * (denoised - old_denoised)
            if eta:
                noise = noise_sampler(sigmas[i], sigmas[i + 1])
                x = x + noise * sigmas[i + 1] * (-2 * eta_h).expm1().neg().sqrt() * s_noise
            h_last = h
        old_denoised = denoised
    return x


@torch.no_grad()
def sample_dpmpp_3m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1., s_noise=1.,
                        noise_sampler=None):
    """DPM-Solver++(3M) SDE: third-order multistep from the last two denoised estimates (Lu et al. 2022)."""
    noise_sampler = brownian_noise_sampler(x, sigmas, noise_sampler)
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    denoised_1, denoised_2, h, h_1, h_2 = None, None, None, None, None
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = sigmas[i].log() - sigmas[i + 1].log()
            h_eta = h * (eta + 1)
            x = torch.exp(-h_eta) * x + (-h_eta).expm1().neg() * denoised
            phi_2 = h_eta.neg().expm1() / h_eta + 1
            if h_2 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                x = x + phi_2 * d1 - (phi_2 / h_eta - 0.5) * d2
            elif h_1 is not None:
                x = x + phi_2 * ((denoised - denoised_1) / (h_1 / h))
            if eta:
                noise = noise_sampler(sigmas[i], sigmas[i + 1])
                x = x + noise * sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x
