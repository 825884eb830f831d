"""The noise levels A1111's UniPC visits with the Automatic schedule type (its "UniPC skip type" setting).

A1111 runs the UniPC authors' library over the continuous-time view of the discrete VP schedule (DPM-Solver's
`NoiseScheduleVP('discrete')`): training step i sits at time t_i = (i + 1) / T, log(alpha_t) = log(abar)/2 is
interpolated linearly in t between them, and the solver steps from t = 1 to t = 1/T (the last training step, not
sigma 0: there is no final jump to the denoised estimate). The skip type spaces the n + 1 times
(Lu et al. 2022, DPM-Solver, arXiv:2206.00927, section 3.3):
time_uniform evenly in t, time_quadratic evenly in sqrt(t), logSNR evenly in lambda = log(alpha/sigma_VP).
Here those times become sigma-space noise levels sigma = sigma_VP / alpha = sqrt(1 / alpha^2 - 1) (so logSNR is
evenly spaced in log sigma).
"""
from __future__ import annotations

import math

import torch

from modules.errors import InvalidInput

SKIP_TYPES = ("time_uniform", "time_quadratic", "logSNR")


def _log_alpha(t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """log(alpha_t) [n] at continuous times t [n] in [1/T, 1]: piecewise linear between the training steps."""
    log_alphas = 0.5 * alphas_cumprod.double().log()  # [T]
    steps = len(log_alphas)
    pos = (t.double() * steps - 1).clamp(0, steps - 1)  # [n] fractional training step
    low = pos.floor().long().clamp(max=steps - 2)  # [n]
    w = pos - low  # [n]
    return (1 - w) * log_alphas[low] + w * log_alphas[low + 1]


def _times(n: int, steps: int, skip_type: str) -> torch.Tensor:
    """The n + 1 continuous times from 1 down to 1/T for the time-based skip types."""
    t_end = 1.0 / steps
    if skip_type == "time_uniform":
        return torch.linspace(1.0, t_end, n + 1, dtype=torch.float64)
    return torch.linspace(1.0, math.sqrt(t_end), n + 1, dtype=torch.float64) ** 2  # time_quadratic


def unipc_sigmas(n: int, alphas_cumprod: torch.Tensor, skip_type: str = "time_uniform") -> torch.Tensor:
    """Sigmas [n + 1], descending from the model's sigma_max to its sigma_min, for `n` UniPC steps."""
    if skip_type not in SKIP_TYPES:
        raise InvalidInput("uni_pc_skip_type", f"unknown skip type {skip_type!r}", ", ".join(SKIP_TYPES))
    abar = alphas_cumprod.double()  # [T]
    if skip_type == "logSNR":
        log_sigma_max, log_sigma_min = (0.5 * ((1 - abar[[-1, 0]]) / abar[[-1, 0]]).log()).tolist()
        return torch.linspace(log_sigma_max, log_sigma_min, n + 1, dtype=torch.float64).exp().float()  # [n + 1]
    log_alpha = _log_alpha(_times(n, len(abar), skip_type), abar)  # [n + 1]
    return torch.expm1(-2 * log_alpha).sqrt().float()  # [n + 1]


def automatic_unipc_sigmas(n: int, denoiser, overrides) -> torch.Tensor:
    """UniPC's schedule type Automatic (`SamplerSpec.automatic_sigmas`): the skip type's sigmas [n + 1] over the
    denoiser's training schedule."""
    return unipc_sigmas(n, denoiser.alphas_cumprod, overrides.uni_pc_skip_type)
