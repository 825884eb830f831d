"""`k_diffusion.external` as A1111 extensions import it (A1111 put the k-diffusion repository on sys.path): the
wrappers that make the model a Karras denoiser D(x, sigma, cond=…) → x0, `CompVisDenoiser` (eps) and
`CompVisVDenoiser` (v). A1111's k-diffusion sampler object holds one as `model_wrap_cfg.inner_model`.

The schedule is Easel's (modules/sampling/denoiser.py does k-diffusion's maths). Calling the wrapper during a
generation is that step's model call, made by Easel's own denoiser (compat/model_call.py): an extension that replaces
`forward` with its own and calls the original one (Tiled Diffusion, once per batch of latent tiles) reaches the UNet
with the rows it chose.
"""
from __future__ import annotations

import torch

from modules.sampling.denoiser import DiscreteDenoiser, append_dims


class DiscreteSchedule(torch.nn.Module):
    """A schedule of discrete training sigmas [T] and the maps between sigma and (fractional) timestep."""

    def __init__(self, sigmas: torch.Tensor, quantize: bool):
        super().__init__()
        self._schedule = DiscreteDenoiser(_no_model, 1 / (sigmas.float() ** 2 + 1), quantize=quantize)
        self.register_buffer("sigmas", self._schedule.sigmas)
        self.register_buffer("log_sigmas", self._schedule.log_sigmas)
        self.quantize = quantize

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def get_sigmas(self, n: int | None = None) -> torch.Tensor:
        return self._schedule.get_sigmas(n)

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        return self._on(sigma).sigma_to_t(sigma, quantize)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self._on(t).t_to_sigma(t)

    def _on(self, value: torch.Tensor) -> DiscreteDenoiser:
        schedule = self._schedule
        return schedule if schedule.sigmas.device == value.device else schedule.to(value.device)


def _no_model(*args, **kwargs):
    raise RuntimeError("a k_diffusion schedule has no model to call")


class DiscreteEpsDDPMDenoiser(DiscreteSchedule):
    """A model predicting eps, trained on a DDPM schedule `alphas_cumprod` [T], as a denoiser."""

    def __init__(self, model, alphas_cumprod: torch.Tensor, quantize: bool):
        super().__init__(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5, quantize)
        self.inner_model = model
        self.sigma_data = 1.0

    def get_scalings(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(c_out, c_in): x0 = x + eps * c_out for the model's input x * c_in."""
        return -sigma, 1 / (sigma ** 2 + self.sigma_data ** 2) ** 0.5

    def get_eps(self, *args, **kwargs) -> torch.Tensor:
        return self.inner_model.apply_model(*args, **kwargs)

    def forward(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        """x0 [N, C, H, W] for `input` at `sigma` [N]: the current step's model call with these rows; through the
        model's `apply_model` (k-diffusion's maths) when an extension replaced that."""
        from modules.extensions.compat.model_call import through_step
        from modules.extensions.compat.sd_model_view import apply_model_replaced

        if not apply_model_replaced(getattr(self.inner_model, "_loaded", None)):
            return through_step(input, sigma, **kwargs)
        return self.x0_from_model(input, sigma, **kwargs)

    def x0_from_model(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        """k-diffusion's maths around the model: x0 = x + eps * c_out for the model's eps at x * c_in."""
        c_out, c_in = (append_dims(c, input.ndim) for c in self.get_scalings(sigma))
        return input + self.get_eps(input * c_in, self.sigma_to_t(sigma), **kwargs) * c_out


class DiscreteVDDPMDenoiser(DiscreteEpsDDPMDenoiser):
    """A model predicting v, trained on a DDPM schedule, as a denoiser."""

    def get_v(self, *args, **kwargs) -> torch.Tensor:
        return self.inner_model.apply_model(*args, **kwargs)

    def x0_from_model(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        """x0 = x * c_skip + v * c_out for the model's v at x * c_in."""
        c_skip, c_out, c_in = (append_dims(c, input.ndim) for c in self.get_scalings(sigma))
        return input * c_skip + self.get_v(input * c_in, self.sigma_to_t(sigma), **kwargs) * c_out

    def get_scalings(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """(c_skip, c_out, c_in): x0 = x * c_skip + v * c_out for the model's input x * c_in."""
        c_skip = self.sigma_data ** 2 / (sigma ** 2 + self.sigma_data ** 2)
        c_out = -sigma * self.sigma_data / (sigma ** 2 + self.sigma_data ** 2) ** 0.5
        return c_skip, c_out, 1 / (sigma ** 2 + self.sigma_data ** 2) ** 0.5


class CompVisDenoiser(DiscreteEpsDDPMDenoiser):
    """The loaded eps model (`shared.sd_model`) as a denoiser."""

    def __init__(self, model, quantize: bool = False, device="cpu"):
        super().__init__(model, model.alphas_cumprod.float().cpu(), quantize=quantize)


class CompVisVDenoiser(DiscreteVDDPMDenoiser):
    """The loaded v model (`shared.sd_model`) as a denoiser."""

    def __init__(self, model, quantize: bool = False, device="cpu"):
        super().__init__(model, model.alphas_cumprod.float().cpu(), quantize=quantize)


BASE_FORWARDS = (DiscreteEpsDDPMDenoiser.forward,)
