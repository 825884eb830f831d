"""Row types of the sampler and scheduler tables, and the settings that shape a sigma schedule."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from modules.lazy import Deferred


def _frozen(mapping) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class SamplerSpec:
    """One sampler as users and the API name it.

    options (A1111's names): second_order (two model calls per step: prompt schedules count double),
    discard_next_to_last_sigma, uses_ensd (ENSD goes to the infotext), brownian_noise (SDE noise from per-image
    Brownian trees), eta_ddim (eta defaults to the DDIM setting), vp_initial_noise (txt2img noise is scaled to
    the VP prior, sqrt(1 + sigma_max^2), as A1111's timestep samplers start from unscaled noise), eta_default
    (the sampler's own eta default, not taken from the settings: TCD's gamma).
    kwargs: fixed keyword arguments for `function`. params: the tunables it accepts (eta, s_churn, s_tmin,
    s_tmax, s_noise, noise_sampler; uni_pc: A1111's UniPC settings, `params.UniPCSettings`). denoiser: builds
    the denoiser it needs from (model_fn, alphas_cumprod, prediction_type). automatic_sigmas: the schedule of
    schedule type Automatic, `(n, denoiser, SigmaOverrides) -> sigmas [n + 1]`, where the sampler has its own
    (UniPC's skip types); None: the denoiser's `get_sigmas`. `function`, `denoiser` and `automatic_sigmas` may be
    `Deferred` (the built-in rows: imported on first use).
    """

    name: str
    function: Callable
    aliases: tuple[str, ...] = ()
    default_scheduler: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    min_steps: int = 1
    denoiser: Callable = Deferred("modules.sampling.denoiser", "DiscreteDenoiser")
    automatic_sigmas: Callable | None = None

    def __post_init__(self):
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "options", _frozen(self.options))
        object.__setattr__(self, "kwargs", _frozen(self.kwargs))
        object.__setattr__(self, "params", tuple(self.params))

    def total_steps(self, steps: int) -> int:
        """Steps as prompt schedules count them: doubled for second-order samplers (A1111)."""
        return steps * 2 if self.options.get("second_order", False) else steps

    def api_options(self) -> dict[str, Any]:
        """The `options` object of GET /sdapi/v1/samplers, as A1111 lists it."""
        extra = {"scheduler": self.default_scheduler} if self.default_scheduler else {}
        return {**extra, **self.options, **self.kwargs}


@dataclass(frozen=True)
class SchedulerSpec:
    """One schedule type. `function(n, sigma_min, sigma_max, [rho], [inner_model], device, **from_settings)`.

    from_settings maps a keyword of `function` to (settings name in `SigmaOverrides`, infotext key or None).
    """

    name: str
    label: str
    function: Callable | None
    aliases: tuple[str, ...] = ()
    default_rho: float = -1
    need_inner_model: bool = False
    from_settings: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "from_settings", _frozen(self.from_settings))

    def api_entry(self) -> dict[str, Any]:
        """An entry of GET /sdapi/v1/schedulers."""
        return {"name": self.name, "label": self.label, "aliases": list(self.aliases) or None,
                "default_rho": self.default_rho, "need_inner_model": self.need_inner_model}


@dataclass(frozen=True)
class SigmaOverrides:
    """Settings that change a schedule (A1111 option names, so an options snapshot can be passed instead)."""

    sigma_min: float = 0.0
    sigma_max: float = 0.0
    rho: float = 0.0
    always_discard_next_to_last_sigma: bool = False
    use_old_karras_scheduler_sigmas: bool = False
    beta_dist_alpha: float = 0.6
    beta_dist_beta: float = 0.6
    is_sdxl: bool = False
    uni_pc_skip_type: str = "time_uniform"

    @classmethod
    def read(cls, source) -> SigmaOverrides:
        """From None, a mapping, or any object with these attribute names (missing ones keep their defaults)."""
        if source is None or isinstance(source, cls):
            return source or cls()
        get = source.get if isinstance(source, Mapping) else (lambda k, d: getattr(source, k, d))
        defaults = cls()
        values = {f.name: get(f.name, None) for f in fields(cls)}
        return cls(**{k: getattr(defaults, k) if v is None else v for k, v in values.items()})
