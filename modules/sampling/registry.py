"""The sampler/scheduler registry: name resolution, sigma schedules with their infotext, noise for a run.

Built from the tables at start-up; extensions may add rows until `freeze()`. Unknown names raise `InvalidInput`
listing the valid ones (A1111 silently falls back to a default instead). Names are resolved without torch (the page
lists them before torch loads); the methods that compute sigmas and noise import it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from modules.errors import InvalidInput
from modules.lazy import Deferred
from modules.sampling.specs import SamplerSpec, SchedulerSpec, SigmaOverrides
from modules.sampling.tables import SAMPLERS, SCHEDULERS

if TYPE_CHECKING:
    import torch

    from modules.sampling.noise import ImageRNG

AUTOMATIC = "automatic"


class SamplerRegistry:
    """Samplers and schedulers by name, label and alias (case-insensitive)."""

    def __init__(self, samplers: Iterable[SamplerSpec] = SAMPLERS, schedulers: Iterable[SchedulerSpec] = SCHEDULERS):
        self._samplers: list[SamplerSpec] = []
        self._schedulers: list[SchedulerSpec] = []
        self._sampler_names: dict[str, SamplerSpec] = {}
        self._scheduler_names: dict[str, SchedulerSpec] = {}
        self.frozen = False
        for scheduler in schedulers:
            self.add_scheduler(scheduler)
        for sampler in samplers:
            self.add_sampler(sampler)

    @property
    def samplers(self) -> tuple[SamplerSpec, ...]:
        return tuple(self._samplers)

    @property
    def schedulers(self) -> tuple[SchedulerSpec, ...]:
        return tuple(self._schedulers)

    def add_sampler(self, spec: SamplerSpec) -> None:
        """Add a row (start-up only); its name and aliases must be new."""
        self._add(spec, (spec.name, *spec.aliases), self._samplers, self._sampler_names)
        if spec.default_scheduler is not None and spec.default_scheduler.lower() not in self._scheduler_names:
            raise ValueError(f"sampler {spec.name!r} names unknown default scheduler {spec.default_scheduler!r}")

    def add_scheduler(self, spec: SchedulerSpec) -> None:
        """Add a row (start-up only); its name, label and aliases must be new."""
        self._add(spec, (spec.name, spec.label, *spec.aliases), self._schedulers, self._scheduler_names)

    def load_code(self) -> None:
        """Import every row's sampler, denoiser and schedule code now (the start-up warm-up; otherwise a row's code
        is imported when it first runs)."""
        for spec in self._samplers:
            for code in (spec.function, spec.denoiser):
                if isinstance(code, Deferred):
                    code.resolve()
        for scheduler in self._schedulers:
            if isinstance(scheduler.function, Deferred):
                scheduler.function.resolve()

    def freeze(self) -> None:
        """End of start-up: no more rows."""
        self.frozen = True

    def _add(self, spec, names, rows: list, index: dict) -> None:
        if self.frozen:
            raise RuntimeError(f"registry is frozen; {names[0]!r} must be added at start-up")
        keys = {n.lower() for n in names}
        taken = [k for k in keys if k in index]
        if taken:
            raise ValueError(f"{names[0]!r}: names already registered: {', '.join(sorted(taken))}")
        rows.append(spec)
        index.update(dict.fromkeys(keys, spec))

    def resolve_sampler(self, name: str | None) -> tuple[SamplerSpec, SchedulerSpec | None]:
        """A sampler by name or alias; an old combined name ("DPM++ 2M Karras") also yields its scheduler.

        None or "" gives the first row (A1111's default sampler).
        """
        if not name:
            return self._samplers[0], None
        key = name.strip().lower()
        if key in self._sampler_names:
            return self._sampler_names[key], None
        for scheduler in self._schedulers:
            for suffix in (scheduler.label, *scheduler.aliases):
                head = key[:-len(suffix) - 1]
                if key.endswith(" " + suffix.lower()) and head in self._sampler_names:
                    return self._sampler_names[head], scheduler
        raise InvalidInput("sampler_name", f"unknown sampler {name!r}", ", ".join(s.name for s in self._samplers))

    def resolve_scheduler(self, name: str | None) -> SchedulerSpec:
        """A scheduler by API name, label or alias; None or "" is Automatic (the sampler's default)."""
        key = (name or AUTOMATIC).strip().lower()
        if key in self._scheduler_names:
            return self._scheduler_names[key]
        valid = ", ".join(s.label for s in self._schedulers)
        raise InvalidInput("scheduler", f"unknown scheduler {name!r}", valid)

    def _sampler(self, sampler: SamplerSpec | str) -> SamplerSpec:
        return sampler if isinstance(sampler, SamplerSpec) else self.resolve_sampler(sampler)[0]

    def _scheduler(self, spec: SamplerSpec, scheduler) -> SchedulerSpec | None:
        chosen = scheduler if isinstance(scheduler, SchedulerSpec) else self.resolve_scheduler(scheduler)
        if chosen.name == AUTOMATIC and spec.default_scheduler:
            chosen = self.resolve_scheduler(spec.default_scheduler)
        return None if chosen.function is None else chosen

    def build_sigmas(self, sampler: SamplerSpec | str, scheduler: SchedulerSpec | str | None, steps: int,
                     denoiser: Any, overrides: Any = None, hires: bool = False,
                     first_pass_schedule: str | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Sigmas [steps + 1] (CPU, float32) and their infotext entries, with A1111 1.10 `get_sigmas` semantics.

        overrides: `SigmaOverrides`, a mapping or an options snapshot (sigma_min/sigma_max/rho: 0 keeps the
        model's/scheduler's own). hires: the second pass of hires fix, whose label goes to "Hires schedule type"
        when it differs from `first_pass_schedule`.
        """
        spec = self._sampler(sampler)
        if not isinstance(steps, int) or steps < spec.min_steps:
            raise InvalidInput("steps", f"{steps!r} is too few for sampler {spec.name}",
                               f"a whole number >= {spec.min_steps}")
        ov = SigmaOverrides.read(overrides)
        chosen = self._scheduler(spec, scheduler)
        discard = bool(spec.options.get("discard_next_to_last_sigma", False))
        extras: dict[str, Any] = {}
        if ov.always_discard_next_to_last_sigma and not discard:
            discard = True
            extras["Discard penultimate sigma"] = True
        n = steps + (1 if discard else 0)
        if chosen is None and spec.automatic_sigmas is not None:
            # the sampler's own time steps: A1111's timestep samplers take one step more rather than dropping one
            return spec.automatic_sigmas(n, denoiser, ov).float().cpu(), extras
        if chosen is None:
            sigmas = denoiser.get_sigmas(n)
        else:
            sigmas = _scheduled(chosen, n, denoiser, ov, extras, hires, first_pass_schedule)
        if discard:
            import torch

            sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
        return sigmas.float().cpu(), extras

    def noise_sampler(self, sampler: SamplerSpec | str, x: torch.Tensor, sigmas: torch.Tensor, rng: ImageRNG,
                      batch_determinism: bool = True):
        """The sampler's noise: per-image Brownian trees for SDE samplers, else the run's `ImageRNG` draws.

        Pass the full schedule (img2img too), as A1111 does, so the trees span the same interval. Without
        `batch_determinism` (A1111's no_dpmpp_sde_batch_determinism setting) one tree covers the whole batch.
        """
        if self._sampler(sampler).options.get("brownian_noise", False):
            from modules.sampling.noise import BrownianTreeNoise

            positive = sigmas[sigmas > 0]
            if not batch_determinism:
                return BrownianTreeNoise.whole_batch(x, positive.min(), sigmas.max(), rng)
            return BrownianTreeNoise(x, positive.min(), sigmas.max(), rng.seeds)
        return rng.noise_sampler(x)


def _scheduled(chosen: SchedulerSpec, n: int, denoiser, ov: SigmaOverrides, extras: dict, hires: bool,
               first_pass_schedule: str | None) -> torch.Tensor:
    """Call a scheduler function with the model's sigma range and the overrides, recording them for the infotext."""
    m_sigma_min, m_sigma_max = float(denoiser.sigma_min), float(denoiser.sigma_max)
    sigma_min, sigma_max = (0.1, 10) if ov.use_old_karras_scheduler_sigmas else (m_sigma_min, m_sigma_max)
    kwargs: dict[str, Any] = {"sigma_min": sigma_min, "sigma_max": sigma_max}
    if not hires:
        extras["Schedule type"] = chosen.label
    elif chosen.label != first_pass_schedule:
        extras["Hires schedule type"] = chosen.label
    if ov.sigma_min != 0 and ov.sigma_min != m_sigma_min:
        kwargs["sigma_min"] = extras["Schedule min sigma"] = ov.sigma_min
    if ov.sigma_max != 0 and ov.sigma_max != m_sigma_max:
        kwargs["sigma_max"] = extras["Schedule max sigma"] = ov.sigma_max
    if chosen.default_rho != -1 and ov.rho != 0 and ov.rho != chosen.default_rho:
        kwargs["rho"] = extras["Schedule rho"] = ov.rho
    if chosen.need_inner_model:
        kwargs["inner_model"] = denoiser
    for kwarg, (setting, infotext_key) in chosen.from_settings.items():
        kwargs[kwarg] = getattr(ov, setting)
        if infotext_key:
            extras[infotext_key] = kwargs[kwarg]
    for key in ("sigma_min", "sigma_max"):
        if not (math.isfinite(kwargs[key]) and kwargs[key] > 0):
            raise InvalidInput(key, f"{kwargs[key]!r} is not a usable noise level", "a number > 0, or 0 for auto")
    assert chosen.function is not None  # `_scheduler` returns None, not a row, for "automatic" (no function)
    return chosen.function(n=n, **kwargs, device="cpu")


def scale_initial_noise(sampler: SamplerSpec, noise: torch.Tensor, sigmas: torch.Tensor,
                        sgm_noise_multiplier: bool = False) -> torch.Tensor:
    """txt2img start: noise * sigma_max, or * sqrt(1 + sigma_max^2) (the VP prior) for the timestep samplers and
    with A1111's "SGM noise multiplier" setting (infotext "SGM noise multiplier: True" is the caller's)."""
    if sgm_noise_multiplier or sampler.options.get("vp_initial_noise", False):
        return noise * (1.0 + sigmas[0] ** 2.0).sqrt()
    return noise * sigmas[0]
