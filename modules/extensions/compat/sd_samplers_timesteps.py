"""A1111's `modules.sd_samplers_timesteps` (and the older `sd_samplers_compvis`): the timestep samplers' objects
(DDIM, PLMS, UniPC, LCM), whose `model_wrap_cfg.inner_model` is the model as a timestep denoiser: eps for inputs
in the sampler's own (variance-preserving) space at timesteps t, through `shared.sd_model.apply_model`. Easel runs
these samplers as plain functions (modules/sampling) on Karras sigmas; an extension that replaces the inner
model's `forward` or the model's `apply_model` gets each model call in A1111's terms (compat/model_call.py)."""
from __future__ import annotations

import torch

from modules.extensions.compat.sd_samplers_common import Sampler


class CompVisTimestepsDenoiser(torch.nn.Module):
    """A1111's eps model wrapper for timestep samplers: `forward(x_t, t, cond=…)` → eps."""

    def __init__(self, model):
        super().__init__()
        self.inner_model = model

    def forward(self, input: torch.Tensor, timesteps: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.inner_model.apply_model(input, timesteps, **kwargs)


class CompVisTimestepsVDenoiser(CompVisTimestepsDenoiser):
    """A1111's v model wrapper for timestep samplers: the model's v turned into eps."""

    def predict_eps_from_z_and_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        abar = self.inner_model.alphas_cumprod.to(x_t.device)[t.round().long()][:, None, None, None]  # [N, 1, 1, 1]
        return abar.sqrt() * v + (1 - abar).sqrt() * x_t

    def forward(self, input: torch.Tensor, timesteps: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.predict_eps_from_z_and_v(input, timesteps, super().forward(input, timesteps, **kwargs))


BASE_FORWARDS = (CompVisTimestepsDenoiser.forward, CompVisTimestepsVDenoiser.forward)


class CFGDenoiserTimesteps:
    """A1111's CFG wrapper of a timestep sampler object; its `inner_model` is made at the first read."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.model_wrap = None
        self.step = 0
        self.p = None

    @property
    def inner_model(self):
        if self.model_wrap is None:
            self.model_wrap = _timestep_denoiser()
        return self.model_wrap


def _timestep_denoiser():
    from modules.extensions.compat import shared

    model = shared.sd_model
    if model is None or model._loaded is None:
        return None
    return (CompVisTimestepsVDenoiser if model.parameterization == "v" else CompVisTimestepsDenoiser)(model)


class CompVisSampler(Sampler):
    """A1111's timestep-sampler object (`funcname` is Easel's sampler name), as `create_sampler` makes it."""

    def __init__(self, funcname, sd_model=None):
        super().__init__(funcname)
        self.sd_model = sd_model
        self.model_wrap_cfg = CFGDenoiserTimesteps(self)
        self.model_wrap = self.model_wrap_cfg.inner_model


VanillaStableDiffusionSampler = CompVisSampler


def __getattr__(name: str):
    if name == "samplers_data_timesteps":
        from modules.extensions.compat import sd_samplers

        return [row for row in sd_samplers.all_samplers if row.name in ("DDIM", "DDIM CFG++", "PLMS", "UniPC")]
    raise AttributeError(f"module 'modules.sd_samplers_timesteps' has no attribute {name!r}")
