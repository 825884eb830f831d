"""A1111's `modules.sd_samplers_kdiffusion`: the k-diffusion sampler table (A1111's labels, function names and
aliases, from Easel's registry) and the class names extensions test `p.sampler` and denoisers against.

Easel samples with plain functions (modules/sampling), so these classes are never instantiated by a generation;
an `isinstance` check against them is False, which is what an extension sees on any non-k-diffusion backend.
"""
from __future__ import annotations

from modules.extensions.compat.sd_samplers_common import Sampler, SamplerData


class CFGDenoiserKDiffusion:
    """A1111's k-diffusion CFG wrapper class; Easel's guidance is modules/sampling/cfg.py (see on_cfg_denoiser)."""


CFGDenoiser = CFGDenoiserKDiffusion


class KDiffusionSampler(Sampler):
    """A1111's k-diffusion sampler class. Easel makes one per run only for extensions that replace its
    `callback_state` (e.g. ReSharpen, Vectorscope CC): theirs is then called after every sampler step with the
    step's dict, whose `x` they may change in place (compat/cfg_view.py)."""

    def callback_state(self, d: dict) -> None:
        """After step `d["i"]`: stop when a `stop_at` step was set and passed (A1111's behaviour)."""
        from modules.extensions.compat.sd_samplers_common import InterruptedException

        if self.stop_at is not None and d["i"] > self.stop_at:
            raise InterruptedException


_BASE_CALLBACK_STATE = KDiffusionSampler.callback_state


def callback_state_replaced() -> bool:
    """Whether an extension put its own function in KDiffusionSampler.callback_state."""
    return KDiffusionSampler.callback_state is not _BASE_CALLBACK_STATE


def _rows() -> list[SamplerData]:
    from modules.extensions.compat import sd_samplers

    return [row for row in sd_samplers.all_samplers if row.name not in ("DDIM", "DDIM CFG++", "PLMS", "UniPC", "LCM")]


def __getattr__(name: str):
    if name == "samplers_data_k_diffusion":
        return _rows()
    if name == "samplers_k_diffusion":
        return [(row.name, row.name, list(row.aliases), dict(row.options)) for row in _rows()]
    if name == "k_diffusion_samplers_map":
        return {row.name: row for row in _rows()}
    raise AttributeError(f"module 'modules.sd_samplers_kdiffusion' has no attribute {name!r}")
