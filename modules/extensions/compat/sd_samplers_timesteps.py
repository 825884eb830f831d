"""A1111's `modules.sd_samplers_timesteps` (and the older `sd_samplers_compvis`): the timestep samplers' class
names extensions check against. Easel runs DDIM, PLMS and UniPC as plain functions (modules/sampling), so no
object of these classes exists in a generation."""
from __future__ import annotations

from modules.extensions.compat.sd_samplers_common import Sampler


class CompVisSampler(Sampler):
    """A1111's timestep-sampler object (`funcname` is Easel's sampler name), as `create_sampler` makes it."""

    def __init__(self, funcname, sd_model=None):
        super().__init__(funcname)
        self.sd_model = sd_model


VanillaStableDiffusionSampler = CompVisSampler


class CFGDenoiserTimesteps:
    """A1111's CFG wrapper for timestep samplers; Easel's guidance is modules/sampling/cfg.py."""


class CompVisTimestepsDenoiser:
    """A1111's eps-prediction model wrapper for timestep samplers."""


class CompVisTimestepsVDenoiser(CompVisTimestepsDenoiser):
    """A1111's v-prediction model wrapper for timestep samplers."""


def __getattr__(name: str):
    if name == "samplers_data_timesteps":
        from modules.extensions.compat import sd_samplers

        return [row for row in sd_samplers.all_samplers if row.name in ("DDIM", "DDIM CFG++", "PLMS", "UniPC")]
    raise AttributeError(f"module 'modules.sd_samplers_timesteps' has no attribute {name!r}")
