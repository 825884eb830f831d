"""Small pieces shared by the sampler loops (k-diffusion's helpers, same maths)."""
from __future__ import annotations

import torch

from modules.sampling.denoiser import append_dims


def to_d(x, sigma, denoised):
    """Karras ODE derivative dx/dsigma = (x - D(x, sigma)) / sigma."""
    return (x - denoised) / append_dims(sigma, x.ndim)


def get_ancestral_step(sigma_from, sigma_to, eta=1.):
    """Split a step sigma_from -> sigma_to into a deterministic step to sigma_down and fresh noise of std sigma_up."""
    if not eta:
        return sigma_to, 0.
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def default_noise_sampler(x):
    """Unseeded Gaussian noise like x (runs pass a seeded sampler, see `noise.ImageRNG.noise_sampler`)."""
    return lambda sigma, sigma_next: torch.randn_like(x)


def churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler):
    """Karras et al. (2022) Alg. 2 lines 4-6: raise sigma_i to sigma_hat = (1 + gamma) sigma_i with fresh noise.

    Noise is drawn every step while s_churn > 0 (as k-diffusion does), so seeded runs match it step for step.
    """
    gamma = min(s_churn / (len(sigmas) - 1), 2 ** 0.5 - 1) if s_tmin <= sigmas[i] <= s_tmax else 0.
    sigma_hat = sigmas[i] * (gamma + 1)
    if s_churn > 0:
        eps = noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise
        if gamma > 0:
            x = x + eps * (sigma_hat ** 2 - sigmas[i] ** 2) ** 0.5
    return x, sigma_hat
