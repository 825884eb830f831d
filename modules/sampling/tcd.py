"""Trajectory Consistency Distillation (Zheng et al. 2024, arXiv:2402.19159): its strategic stochastic sampler.

A TCD model (or a TCD / Hyper-SD "unified" LoRA) was distilled to jump from timestep t to any earlier one. Each step
predicts x0 and eps at t, moves deterministically down to s = floor((1 - gamma) * t_next), then adds fresh noise back
up to t_next; gamma (the request's eta) says how far below t_next it goes: 0 is deterministic, 1 re-noises from x0.
In sigma space (x = x_vp / sqrt(abar)) that is x_s = x0 + sigma_s * eps and x_next = x_s + sqrt(sigma_next^2 -
sigma_s^2) * z. The last step ends at s = 0, the smallest training sigma rather than 0, as diffusers' TCDScheduler
does (docs/few-step-models.md).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from tqdm.auto import trange

from modules.sampling.sampler_utils import default_noise_sampler

DEFAULT_GAMMA = 0.3  # the authors' default (diffusers' TCD pipelines pass eta=0.3)


def discrete_schedule(model: Any) -> Any:
    """The denoiser over the model's training timesteps (sigma_to_t / t_to_sigma) behind a CFG denoiser."""
    for candidate in (getattr(model, "denoiser", None), model):
        if hasattr(candidate, "sigma_to_t") and hasattr(candidate, "t_to_sigma"):
            return candidate
    raise TypeError("TCD needs a denoiser over discrete training timesteps (one with sigma_to_t and t_to_sigma)")


def landing_timesteps(next_timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """s = floor((1 - gamma) * t_next) for each step's next timestep (0 after the last step), in float32 as
    diffusers' TCDScheduler computes it.

    >>> landing_timesteps(torch.tensor([759, 499, 259, 0]), 0.3).tolist()
    [531, 349, 181, 0]
    >>> landing_timesteps(torch.tensor([759, 0]), 0.0).tolist()
    [759, 0]
    """
    return torch.floor((1 - gamma) * next_timesteps.long()).long()


def landing_sigmas(schedule: Any, sigmas: torch.Tensor, gamma: float) -> torch.Tensor:
    """sigma_s [n] for sigmas [n + 1]: next timesteps rounded to the nearest training one, a sigma of 0 as t = 0."""
    device = schedule.sigmas.device
    nxt = sigmas[1:].to(device)  # [n]
    t_next = schedule.sigma_to_t(nxt.clamp(min=float(schedule.sigma_min)), quantize=True).long()  # [n]
    t_next = torch.where(nxt > 0, t_next, torch.zeros_like(t_next))
    return schedule.t_to_sigma(landing_timesteps(t_next, gamma).float()).to(sigmas.device)  # [n]


@torch.no_grad()
def sample_tcd(model: Callable, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
               callback: Callable | None = None, disable: bool | None = None, eta: float = DEFAULT_GAMMA,
               noise_sampler: Callable | None = None) -> torch.Tensor:
    """TCD's strategic stochastic sampling (Zheng et al. 2024, Alg. 4) with gamma = eta, in [0, 1]."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"TCD's gamma (eta) must lie in [0, 1], not {eta}")
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    sigma_s = landing_sigmas(discrete_schedule(model), sigmas, eta)  # [n]
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)  # [B, C, H, W]
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        eps = (x - denoised) / sigmas[i]
        x = denoised + sigma_s[i] * eps  # DDIM down to timestep s
        last = i == len(sigmas) - 2
        if eta > 0 and not last and sigmas[i + 1] > 0:
            x = x + (sigmas[i + 1] ** 2 - sigma_s[i] ** 2).clamp(min=0).sqrt() * noise_sampler(sigmas[i], sigmas[i + 1])
    return x
