"""A1111's `modules.sd_samplers`: the sampler list as SamplerData rows, read from the App's sampler registry
(`all_samplers`, `samplers`, `samplers_for_img2img`, `samplers_map`, `visible_sampler_names()`, …)."""
from __future__ import annotations

from typing import Any

from modules.extensions.compat import binding
from modules.extensions.compat.sd_samplers_common import SamplerData


def _registry():
    return binding.app().services.samplers


def _row(spec) -> SamplerData:
    """A registry sampler as A1111's row; its constructor makes the k-diffusion sampler object A1111 would."""
    from modules.extensions.compat.sd_samplers_kdiffusion import TIMESTEP_SAMPLERS, KDiffusionSampler
    from modules.extensions.compat.sd_samplers_timesteps import CompVisSampler

    kind = CompVisSampler if spec.name in TIMESTEP_SAMPLERS else KDiffusionSampler
    options = {**spec.api_options()}
    return SamplerData(spec.name, lambda model, name=spec.name: kind(name, model), [*spec.aliases], options)


def _hidden() -> set[str]:
    from modules.extensions.compat.images import _opt

    return set(_opt("hide_samplers", []) or [])


def _all() -> list[SamplerData]:
    return [_row(spec) for spec in _registry().samplers]


def _map() -> dict[str, str]:
    """Lower-case name or alias → sampler name (A1111's `samplers_map`)."""
    out: dict[str, str] = {}
    for row in _all():
        for key in (row.name, *row.aliases):
            out[key.lower()] = row.name
    return out


# A1111's one `all_samplers_map` dict, which extensions add their own rows to (and delete them from) around a
# run, e.g. a row whose constructor wraps another sampler's: the registry's rows are merged in at each access
_MAP: dict[str, SamplerData] = {}


def _samplers_map() -> dict[str, SamplerData]:
    for row in _all():
        _MAP.setdefault(row.name, row)
    return _MAP


_DYNAMIC = {
    "all_samplers": _all,
    "samplers": _all,
    "samplers_for_img2img": _all,
    "all_samplers_map": _samplers_map,
    "samplers_map": _map,
    "samplers_hidden": _hidden,
}


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.sd_samplers' has no attribute {name!r}")


def set_samplers() -> None:
    """A1111 rebuilds its lists here; Easel's are read from the registry each time."""
    return None


def visible_sampler_names() -> list[str]:
    hidden = _hidden()
    return [row.name for row in _all() if row.name not in hidden]


def find_sampler_config(name: str | None) -> SamplerData | None:
    """A sampler row by name or alias (None or "" gives the first); None when unknown (A1111 does not raise)."""
    if name is None or name == "":
        return _all()[0]
    if name in _samplers_map():
        return _MAP[name]
    try:
        spec, _ = _registry().resolve_sampler(name)
    except Exception:
        return None
    return _row(spec)


def get_sampler_and_scheduler(sampler_name: str | None, scheduler_name: str | None, *, convert_automatic=True):
    """(sampler name, scheduler label), also for old combined names ("DPM++ 2M Karras"); an unknown sampler
    is returned as it came, an unknown scheduler becomes Automatic (A1111)."""
    registry = _registry()
    try:
        spec, implied = registry.resolve_sampler(sampler_name)
    except Exception:
        return sampler_name, scheduler_name or "Automatic"
    try:
        scheduler = registry.resolve_scheduler(scheduler_name)
    except Exception:
        scheduler = registry.resolve_scheduler(None)
    if implied is not None and scheduler.name == "automatic":
        scheduler = implied
    if convert_automatic and scheduler.name == "automatic" and spec.default_scheduler:
        scheduler = registry.resolve_scheduler(spec.default_scheduler)
    return spec.name, scheduler.label


def get_sampler_from_infotext(d: dict) -> str:
    return get_sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))[0]


def get_scheduler_from_infotext(d: dict) -> str:
    return get_sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))[1]


def create_sampler(name: str, model):
    """A1111's sampler object for a row (its constructor, then `config` set): what `p.sampler` holds during a run.
    Easel's pipeline samples with its own functions; what such an object changes that Easel honours is its
    `model_wrap_cfg.combine_denoised` and `callback_state` (compat/cfg_view.py)."""
    config = find_sampler_config(name)
    if config is None:
        raise ValueError(f"bad sampler name: {name}")
    if config.constructor is None:
        raise ValueError(f"sampler {config.name!r} has no constructor")
    sampler = config.constructor(model)
    sampler.config = config
    return sampler


make_sampler_object = create_sampler  # the function above, whatever an extension puts in `create_sampler`
