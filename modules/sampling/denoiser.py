"""Karras-style denoiser around a discrete-time DDPM that predicts eps or v.

Samplers work in the "variance exploding" view of Karras et al. (2022): x = x0 + sigma * noise, and they need a
denoiser D(x, sigma) -> x0. A Stable Diffusion UNet was trained on the discrete DDPM chain (1000 timesteps, VP
scaling), so this wrapper converts between the two: sigma_t = sqrt((1 - abar_t) / abar_t), the input is scaled by
c_in = 1 / sqrt(sigma^2 + 1) (back to VP), sigma is mapped to a fractional timestep by log-sigma interpolation,
and the output is turned into x0 (eps: x - sigma * eps; v: c_skip * x + c_out * v).
This is the maths of k-diffusion's `DiscreteSchedule`, `CompVisDenoiser` and `CompVisVDenoiser`.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from modules.errors import InvalidInput

PREDICTION_TYPES = {"eps": "eps", "epsilon": "eps", "v": "v", "v_prediction": "v"}


def append_zero(x: torch.Tensor) -> torch.Tensor:
    """Schedules end at sigma = 0 (the clean image)."""
    return torch.cat([x, x.new_zeros([1])])


def append_dims(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """[B] -> [B, 1, 1, 1] so a per-sample scalar broadcasts over an image batch."""
    return x.reshape(x.shape + (1,) * (ndim - x.ndim))


def scaled_linear_alphas_cumprod(beta_start: float = 0.00085, beta_end: float = 0.012,
                                 timesteps: int = 1000) -> torch.Tensor:
    """The SD 1.x/2.x/XL training schedule ("scaled linear" betas), as LDM builds it: float64 maths, float32 result."""
    betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).float()  # [T]


def discrete_sigmas(alphas_cumprod: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sigmas, log sigmas) [T] float32 of a training schedule, sigma = sqrt((1 - abar) / abar). A float16 schedule
    (A1111's use_downcasted_alpha_bar, modules/sampling/alpha_schedule.py) is computed in float16, as k-diffusion's
    buffers are built from it there; anything else in float32."""
    abar = alphas_cumprod if alphas_cumprod.dtype == torch.float16 else alphas_cumprod.float()  # [T]
    sigmas = ((1 - abar) / abar) ** 0.5  # [T]
    return sigmas.float(), sigmas.log().float()


class DiscreteDenoiser:
    """D(x, sigma) for a model `model_fn(x_in, t, **kwargs) -> eps | v` trained on a discrete DDPM schedule.

    `alphas_cumprod` [T] is the training schedule; `prediction_type` is "eps"/"epsilon" or "v"/"v_prediction".
    `quantize=True` rounds sigma to the nearest training timestep (A1111's "Enable quantization in K samplers").
    """

    def __init__(self, model_fn: Callable, alphas_cumprod: torch.Tensor, prediction_type: str = "eps",
                 quantize: bool = False):
        if prediction_type not in PREDICTION_TYPES:
            raise InvalidInput("prediction_type", f"unknown prediction type {prediction_type!r}",
                               ", ".join(PREDICTION_TYPES))
        self.model_fn = model_fn
        self.prediction_type = PREDICTION_TYPES[prediction_type]
        self.quantize = quantize
        self.alphas_cumprod = alphas_cumprod.float()  # [T]
        self.sigmas, self.log_sigmas = discrete_sigmas(alphas_cumprod)  # [T] each, ascending

    def to(self, device) -> DiscreteDenoiser:
        """The same denoiser with its schedule tensors on `device` (they must sit with the sigmas it is given)."""
        moved = type(self).__new__(type(self))
        moved.__dict__.update(self.__dict__)
        for name in ("alphas_cumprod", "sigmas", "log_sigmas"):
            setattr(moved, name, getattr(self, name).to(device))
        return moved

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def get_sigmas(self, n: int | None = None) -> torch.Tensor:
        """k-diffusion's default discretisation: n timesteps evenly spaced from T-1 to 0, then sigma 0."""
        if n is None:
            return append_zero(self.sigmas.flip(0))
        t_max = len(self.sigmas) - 1
        t = torch.linspace(t_max, 0, n, device=self.sigmas.device)  # [n]
        return append_zero(self.t_to_sigma(t))  # [n + 1]

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        """Fractional timestep whose log-sigma interpolates linearly between the two nearest training sigmas."""
        quantize = self.quantize if quantize is None else quantize
        log_sigma = sigma.log().reshape(-1)  # [N]
        if quantize:
            return (log_sigma - self.log_sigmas[:, None]).abs().argmin(dim=0).view(sigma.shape)
        # the last training sigma <= sigma (k-diffusion's ge/cumsum/argmax, as a binary search)
        low_idx = torch.searchsorted(self.log_sigmas, log_sigma, right=True).sub_(1)
        low_idx = low_idx.clamp_(0, self.log_sigmas.shape[0] - 2)
        high_idx = low_idx + 1
        low, high = self.log_sigmas[low_idx], self.log_sigmas[high_idx]
        w = ((low - log_sigma) / (low - high)).clamp(0, 1)
        t = (1 - w) * low_idx + w * high_idx
        return t.view(sigma.shape)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        """Inverse of `sigma_to_t`: log-sigma interpolated between the neighbouring integer timesteps."""
        t = t.float()
        low_idx, high_idx, w = t.floor().long(), t.ceil().long(), t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low_idx] + w * self.log_sigmas[high_idx]
        return log_sigma.exp()

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        """x [B, C, H, W] at noise level sigma [B] -> the model's estimate of the clean x0 [B, C, H, W]."""
        sigma_b = append_dims(sigma, x.ndim)  # [B, 1, 1, 1]
        c_in = 1 / (sigma_b ** 2 + 1) ** 0.5
        out = self.model_fn(x * c_in, self.sigma_to_t(sigma), **kwargs)  # [B, C, H, W]
        if self.prediction_type == "eps":
            return torch.addcmul(x, out, sigma_b, value=-1)  # x - sigma * eps
        c_skip = 1 / (sigma_b ** 2 + 1)
        c_out = -sigma_b / (sigma_b ** 2 + 1) ** 0.5
        return torch.addcmul(x * c_skip, out, c_out)  # c_skip * x + c_out * v
