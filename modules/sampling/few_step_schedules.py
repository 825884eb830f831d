"""The timestep schedules few-step distilled models were trained for, picked as diffusers' schedulers pick them.

- LCM: the 50 distillation timesteps 19, 39, ..., 999 (LCM and TCD were distilled on them), n of them at evenly spaced
  indices from the top (diffusers' LCMScheduler and TCDScheduler, original_inference_steps=50).
- Trailing: timesteps T-1, T-1-T/n, ... rounded (diffusers' timestep_spacing="trailing", which SDXL-Lightning,
  Hyper-SD and SD/SDXL-Turbo ship in their scheduler configs).

Both return the training sigmas of those timesteps, then 0; like Uniform, they ignore sigma_min/sigma_max overrides.
docs/few-step-models.md lists which model wants which.
"""
from __future__ import annotations

import numpy as np
import torch

from modules.errors import InvalidInput
from modules.sampling.denoiser import append_zero

ORIGINAL_STEPS = 50  # LCM/TCD distillation: every 20th of 1000 training timesteps


def lcm_timesteps(n: int, train_timesteps: int = 1000, original_steps: int = ORIGINAL_STEPS) -> list[int]:
    """n of the distillation timesteps, from the top at indices floor(i * original_steps / n).

    >>> lcm_timesteps(4)
    [999, 759, 499, 259]
    >>> lcm_timesteps(1), lcm_timesteps(2)
    ([999], [999, 499])
    >>> lcm_timesteps(51)
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: steps: 51 steps cannot be picked from the 50 distillation timesteps (valid: 1 to 50)
    """
    if not 1 <= n <= original_steps:
        raise InvalidInput("steps", f"{n} steps cannot be picked from the {original_steps} distillation timesteps",
                           f"1 to {original_steps}")
    k = train_timesteps // original_steps
    origin = np.arange(original_steps, 0, -1) * k - 1  # [50]: 999, 979, ..., 19
    indices = np.floor(np.linspace(0, original_steps, num=n, endpoint=False)).astype(np.int64)  # [n]
    return [int(t) for t in origin[indices]]


def trailing_timesteps(n: int, train_timesteps: int = 1000) -> list[int]:
    """round(T - i * T / n) - 1 for i < n: the top timestep first, evenly spaced down to T/n - 1.

    >>> trailing_timesteps(4)
    [999, 749, 499, 249]
    >>> trailing_timesteps(3), trailing_timesteps(1)
    ([999, 666, 332], [999])
    """
    if n < 1:
        raise InvalidInput("steps", f"{n} is too few", "a whole number >= 1")
    spaced = np.round(np.arange(train_timesteps, 0, -train_timesteps / n))[:n]  # [n]
    return [int(t) - 1 for t in spaced]


def _train_timesteps(inner_model) -> int:
    """T of the model's training schedule: the timestep of its largest sigma, plus one."""
    return int(round(float(inner_model.sigma_to_t(inner_model.sigma_max)))) + 1


def _sigmas_at(inner_model, timesteps: list[int], device) -> torch.Tensor:
    t = torch.tensor(timesteps, dtype=torch.float32, device=inner_model.sigmas.device)  # [n]
    return append_zero(inner_model.t_to_sigma(t)).to(device)  # [n + 1]


def lcm(n, sigma_min, sigma_max, inner_model, device="cpu"):
    """Sigmas at the LCM/TCD distillation timesteps diffusers picks for n steps, then 0."""
    return _sigmas_at(inner_model, lcm_timesteps(n, _train_timesteps(inner_model)), device)


def trailing(n, sigma_min, sigma_max, inner_model, device="cpu"):
    """Sigmas at diffusers' "trailing" timesteps for n steps, then 0."""
    return _sigmas_at(inner_model, trailing_timesteps(n, _train_timesteps(inner_model)), device)
