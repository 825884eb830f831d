"""Latent Consistency Models (Luo et al. 2023, arXiv:2310.04378): the denoiser and the multistep sampler.

An LCM was distilled on 50 of the 1000 training timesteps (t = 19, 39, ..., 999) and carries a consistency
boundary condition: D(x, t) = c_skip(t) x + c_out(t) x0(x, t) with c from t * 10 and sigma_data = 0.5.
This is A1111's `LCMCompVisDenoiser` and `sample_lcm`.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import trange

from modules.sampling.denoiser import DiscreteDenoiser, append_dims, append_zero
from modules.sampling.sampler_utils import default_noise_sampler

ORIGINAL_STEPS = 50
TIMESTEP_SCALING = 10.0
SIGMA_DATA = 0.5


class LCMDenoiser(DiscreteDenoiser):
    """A `DiscreteDenoiser` over the 50 LCM timesteps, sigma quantized to the nearest, with the boundary scaling."""

    def __init__(self, model_fn: Callable, alphas_cumprod: torch.Tensor, prediction_type: str = "eps"):
        timesteps = len(alphas_cumprod)
        self.skip_steps = timesteps // ORIGINAL_STEPS
        picked = torch.arange(ORIGINAL_STEPS) * self.skip_steps + (timesteps - 1) % self.skip_steps  # 19, 39, ... 999
        super().__init__(model_fn, alphas_cumprod.float()[picked], prediction_type, quantize=True)

    def get_sigmas(self, n: int | None = None) -> torch.Tensor:
        """n sigmas evenly spaced in timestep between the first and last LCM timestep, then 0."""
        if n is None:
            return append_zero(self.sigmas.flip(0))
        start, end = self.sigma_to_t(self.sigma_max), self.sigma_to_t(self.sigma_min)
        return append_zero(self.t_to_sigma(torch.linspace(start, end, n, device=self.sigmas.device)))

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        """The training timestep (19, 39, ..., 999) of the nearest LCM sigma."""
        index = super().sigma_to_t(sigma, quantize=True)
        return index * self.skip_steps + (self.skip_steps - 1)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        index = torch.clamp(((t - (self.skip_steps - 1)) / self.skip_steps).float(), min=0, max=len(self.sigmas) - 1)
        return super().t_to_sigma(index)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        """x [B, C, H, W] -> c_out * x0 + c_skip * x, the consistency function's output."""
        x0 = super().__call__(x, sigma, **kwargs)
        scaled_t = append_dims(self.sigma_to_t(sigma), x.ndim) * TIMESTEP_SCALING  # [B, 1, 1, 1]
        c_skip = SIGMA_DATA ** 2 / (scaled_t ** 2 + SIGMA_DATA ** 2)
        c_out = scaled_t / (scaled_t ** 2 + SIGMA_DATA ** 2) ** 0.5
        return c_out * x0 + c_skip * x


@torch.no_grad()
def sample_lcm(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """LCM multistep sampling (Luo et al. 2023 Alg. 3): jump to x0, re-noise to the next sigma."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * noise_sampler(sigmas[i], sigmas[i + 1])
    return x
