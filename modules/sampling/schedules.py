"""Noise schedules: functions `(n, sigma_min, sigma_max, ...) -> sigmas [n + 1]`, descending, ending at 0.

Same maths as k-diffusion's `get_sigmas_*` and A1111 1.10's `sd_schedulers`. Those that need the model's training
sigmas take `inner_model` (a `DiscreteDenoiser`); all accept `device` as A1111's scheduler functions do.
KL Optimal keeps A1111's quirk of ending at sigma_min rather than 0.
"""
from __future__ import annotations

import math

import torch

from modules.sampling.beta_dist import beta_ppf
from modules.sampling.denoiser import append_zero

# Align Your Steps, 10-step sigmas from NVIDIA's how-to (Sabour et al. 2024), per model family.
AYS_SIGMAS = {
    "sd15": (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029),
    "sdxl": (14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029),
}


def get_sigmas_karras(n, sigma_min, sigma_max, rho=7., device="cpu"):
    """Karras et al. (2022) eq. 5: sigma_i = (max^(1/rho) + i/(n-1) (min^(1/rho) - max^(1/rho)))^rho."""
    ramp = torch.linspace(0, 1, n)  # [n]
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return append_zero(sigmas).to(device)


def get_sigmas_exponential(n, sigma_min, sigma_max, device="cpu"):
    """Evenly spaced in log sigma."""
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device).exp()
    return append_zero(sigmas)


def get_sigmas_polyexponential(n, sigma_min, sigma_max, rho=1., device="cpu"):
    """log sigma follows a polynomial ramp of degree rho (rho = 1: exponential)."""
    ramp = torch.linspace(1, 0, n, device=device) ** rho
    sigmas = torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min))
    return append_zero(sigmas)


def uniform(n, sigma_min, sigma_max, inner_model, device="cpu"):
    """The model's default discretisation: timesteps evenly spaced from T-1 to 0."""
    return inner_model.get_sigmas(n).to(device)


def normal(n, sigma_min, sigma_max, inner_model, device="cpu", sgm=False):
    """Timesteps evenly spaced between those of sigma_max and sigma_min (sgm: n + 1 points, last dropped)."""
    start = inner_model.sigma_to_t(torch.tensor(sigma_max))
    end = inner_model.sigma_to_t(torch.tensor(sigma_min))
    timesteps = torch.linspace(start, end, n + 1)[:-1] if sgm else torch.linspace(start, end, n)
    sigs = [inner_model.t_to_sigma(ts) for ts in timesteps]
    return torch.FloatTensor(sigs + [0.0]).to(device)


def sgm_uniform(n, sigma_min, sigma_max, inner_model, device="cpu"):
    """Stability's SGM discretisation: `normal` over n + 1 timesteps without the last."""
    return normal(n, sigma_min, sigma_max, inner_model, device, sgm=True)


def simple(n, sigma_min, sigma_max, inner_model, device="cpu"):
    """Every (T / n)-th training sigma, from the top (ComfyUI's "simple")."""
    ss = len(inner_model.sigmas) / n
    sigs = [float(inner_model.sigmas[-(1 + int(x * ss))]) for x in range(n)]
    return torch.FloatTensor(sigs + [0.0]).to(device)


def ddim_uniform(n, sigma_min, sigma_max, inner_model, device="cpu"):
    """The training sigmas at timesteps 1, 1 + T//n, ... (DDIM's uniform "leading" timesteps), descending."""
    ss = max(len(inner_model.sigmas) // n, 1)
    sigs = [float(inner_model.sigmas[x]) for x in range(1, len(inner_model.sigmas), ss)]
    return torch.FloatTensor(sigs[::-1] + [0.0]).to(device)


def kl_optimal(n, sigma_min, sigma_max, device="cpu"):
    """KL-optimal schedule (Sabour et al. 2024): evenly spaced in arctan(sigma), n + 1 points ending at sigma_min."""
    alpha_min = torch.arctan(torch.tensor(sigma_min, device=device))
    alpha_max = torch.arctan(torch.tensor(sigma_max, device=device))
    step_indices = torch.arange(n + 1, device=device)
    return torch.tan(step_indices / n * alpha_min + (1.0 - step_indices / n) * alpha_max)


def loglinear_interp(t_steps, num_steps: int) -> list[float]:
    """Resample a decreasing sequence to num_steps points, linearly in log space (AYS how-to)."""
    ys = [math.log(v) for v in reversed(t_steps)]
    xs = [i / (len(ys) - 1) for i in range(len(ys))]
    out = []
    for k in range(num_steps):
        q = k / (num_steps - 1) if num_steps > 1 else 0.0
        j = min(max(next((i for i in range(1, len(xs)) if xs[i] >= q), len(xs) - 1), 1), len(xs) - 1)
        w = (q - xs[j - 1]) / (xs[j] - xs[j - 1])
        out.append(math.exp(ys[j - 1] + w * (ys[j] - ys[j - 1])))
    return out[::-1]


def align_your_steps(n, sigma_min, sigma_max, device="cpu", is_sdxl=False):
    """Align Your Steps (Sabour et al. 2024): NVIDIA's optimised 10-step sigmas, log-linearly resampled to n."""
    table = list(AYS_SIGMAS["sdxl" if is_sdxl else "sd15"])
    sigmas = table if n == len(table) else loglinear_interp(table, n)
    return torch.FloatTensor(list(sigmas) + [0.0]).to(device)


def beta_schedule(n, sigma_min, sigma_max, inner_model=None, device="cpu", alpha=0.6, beta=0.6):
    """Beta schedule (Lee et al. 2024, arXiv:2407.12173): sigma placed at Beta(alpha, beta) quantiles."""
    quantiles = [beta_ppf(1.0 - i / (n - 1) if n > 1 else 1.0, alpha, beta) for i in range(n)]
    sigmas = [sigma_min + q * (sigma_max - sigma_min) for q in quantiles]
    return torch.FloatTensor(sigmas + [0.0]).to(device)
