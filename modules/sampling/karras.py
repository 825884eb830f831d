"""Samplers of the Karras et al. (2022) family: Euler, Euler ancestral, Heun, DPM2, DPM2 ancestral, LMS."""
from __future__ import annotations

import torch
from tqdm.auto import trange

from modules.sampling.sampler_utils import churn, default_noise_sampler, get_ancestral_step, to_d


@torch.no_grad()
def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None, s_churn=0., s_tmin=0.,
                 s_tmax=float('inf'), s_noise=1., noise_sampler=None):
    """Euler steps of Karras et al. (2022) Algorithm 2 (churn optional)."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        x, sigma_hat = churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler)
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = to_d(x, sigma_hat, denoised)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigma_hat, 'denoised': denoised})
        x = x + d * (sigmas[i + 1] - sigma_hat)
    return x


@torch.no_grad()
def sample_euler_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1., s_noise=1.,
                           noise_sampler=None):
    """Ancestral sampling with Euler steps: step down to sigma_down, then add noise of std sigma_up."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        d = to_d(x, sigmas[i], denoised)
        x = x + d * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


@torch.no_grad()
def sample_heun(model, x, sigmas, extra_args=None, callback=None, disable=None, s_churn=0., s_tmin=0.,
                s_tmax=float('inf'), s_noise=1., noise_sampler=None):
    """Heun steps of Karras et al. (2022) Algorithm 2 (second order; the step to sigma = 0 is Euler)."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        x, sigma_hat = churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler)
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = to_d(x, sigma_hat, denoised)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigma_hat, 'denoised': denoised})
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = to_d(x_2, sigmas[i + 1], model(x_2, sigmas[i + 1] * s_in, **extra_args))
            x = x + (d + d_2) / 2 * dt
    return x


def dpm2_step(model, x, d, sigma, sigma_to, s_in, extra_args):
    """DPM-Solver-2 (Lu et al. 2022) in sigma: Euler to the log-midpoint, then the full step with its slope."""
    sigma_mid = sigma.log().lerp(sigma_to.log(), 0.5).exp()
    x_2 = x + d * (sigma_mid - sigma)
    d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid * s_in, **extra_args))
    return x + d_2 * (sigma_to - sigma)


@torch.no_grad()
def sample_dpm_2(model, x, sigmas, extra_args=None, callback=None, disable=None, s_churn=0., s_tmin=0.,
                 s_tmax=float('inf'), s_noise=1., noise_sampler=None):
    """DPM-Solver-2 steps (Lu et al. 2022) inside Karras et al. (2022) Algorithm 2."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        x, sigma_hat = churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler)
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = to_d(x, sigma_hat, denoised)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigma_hat, 'denoised': denoised})
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigma_hat)
        else:
            x = dpm2_step(model, x, d, sigma_hat, sigmas[i + 1], s_in, extra_args)
    return x


@torch.no_grad()
def sample_dpm_2_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1., s_noise=1.,
                           noise_sampler=None):
    """Ancestral sampling with DPM-Solver-2 steps (to sigma_down, then noise of std sigma_up)."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
        else:
            x = dpm2_step(model, x, d, sigmas[i], sigma_down, s_in, extra_args)
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


# 4-point Gauss-Legendre rule: exact for the cubic Lagrange polynomials of LMS up to order 4.
_GL_NODES = (-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526)
_GL_WEIGHTS = (0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538)


def linear_multistep_coeff(order: int, t, i: int, j: int) -> float:
    """Integral over [t_i, t_{i+1}] of the Lagrange basis polynomial of node t_{i-j} (Adams-Bashforth weights)."""
    if order - 1 > i:
        raise ValueError(f'Order {order} too high for step {i}')

    def basis(tau: float) -> float:
        prod = 1.
        for k in range(order):
            if j != k:
                prod *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return prod

    half, mid = (t[i + 1] - t[i]) / 2, (t[i + 1] + t[i]) / 2
    return half * sum(w * basis(half * node + mid) for node, w in zip(_GL_NODES, _GL_WEIGHTS))


@torch.no_grad()
def sample_lms(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
    """Linear multistep (Adams-Bashforth) on the Karras ODE in sigma, order up to 4 (Karras et al. 2022 sec. 3)."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    t = [float(s) for s in sigmas]
    ds = []
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        ds.append(to_d(x, sigmas[i], denoised))
        if len(ds) > order:
            ds.pop(0)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        cur_order = min(i + 1, order)
        coeffs = [linear_multistep_coeff(cur_order, t, i, j) for j in range(cur_order)]
        x = x + sum(coeff * d for coeff, d in zip(coeffs, reversed(ds)))
    return x
