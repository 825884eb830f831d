"""The user tunables of a sampler (eta, sigma churn/tmin/tmax/noise): validation, defaults and infotext.

Only the tunables a sampler declares in `SamplerSpec.params` are passed to it, and a value is written to the
infotext when it differs from the sampler's default, under A1111's keys ("Eta", "Eta DDIM", "Sigma churn", ...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from modules.errors import InvalidInput
from modules.sampling.specs import SamplerSpec

DEFAULTS = {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": math.inf, "s_noise": 1.0}
INFOTEXT = {"s_churn": "Sigma churn", "s_tmin": "Sigma tmin", "s_tmax": "Sigma tmax", "s_noise": "Sigma noise"}


@dataclass(frozen=True)
class UniPCSettings:
    """A1111's UniPC settings (uni_pc_order, uni_pc_variant, uni_pc_lower_order_final), for the samplers that
    declare "uni_pc" in their params. A1111 writes none of them to the infotext."""

    order: int = 3
    variant: str = "bh1"
    lower_order_final: bool = True

    @classmethod
    def read(cls, opts) -> UniPCSettings:
        """From an options snapshot."""
        return cls(int(opts.uni_pc_order), str(opts.uni_pc_variant), bool(opts.uni_pc_lower_order_final))

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `modules.sampling.unipc.sample_unipc`."""
        return {"order": self.order, "variant": self.variant, "lower_order_final": self.lower_order_final}


def _number(field: str, value, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < minimum:
        raise InvalidInput(field, f"{value!r} is not allowed", f"a number >= {minimum:g}")
    return float(value)


def sampler_params(spec: SamplerSpec, eta: float | None = None, s_churn: float | None = None,
                   s_tmin: float | None = None, s_tmax: float | None = None, s_noise: float | None = None,
                   eta_ancestral: float = 1.0, eta_ddim: float = 0.0,
                   uni_pc: UniPCSettings = UniPCSettings()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keyword arguments for `spec.function` including its fixed kwargs, infotext entries).

    None means the default: eta from `eta_ddim` for DDIM-style samplers (option "eta_ddim") else from
    `eta_ancestral` (A1111's settings), or the sampler's own option "eta_default" where it has one (its eta is
    another parameter, e.g. TCD's gamma); s_tmax 0 means infinity, as in A1111's settings. `uni_pc` goes to the
    samplers that declare "uni_pc".
    """
    uses_ddim_eta = bool(spec.options.get("eta_ddim", False))
    own_eta = spec.options.get("eta_default")  # a sampler whose eta is its own parameter (TCD's gamma)
    eta_default = own_eta if own_eta is not None else eta_ddim if uses_ddim_eta else eta_ancestral
    eta_unmarked = own_eta if own_eta is not None else 0.0 if uses_ddim_eta else 1.0
    values = {"s_churn": s_churn, "s_tmin": s_tmin, "s_tmax": s_tmax or None, "s_noise": s_noise}
    kwargs: dict[str, Any] = dict(spec.kwargs)
    infotext: dict[str, Any] = {}
    if "uni_pc" in spec.params:
        kwargs.update(uni_pc.kwargs())
    if "eta" in spec.params:
        kwargs["eta"] = _number("eta", eta_default if eta is None else eta)
        if kwargs["eta"] != eta_unmarked:
            infotext["Eta DDIM" if uses_ddim_eta else "Eta"] = kwargs["eta"]
    for name, value in values.items():
        if name not in spec.params:
            continue
        kwargs[name] = _number(name, DEFAULTS[name] if value is None else value)
        if kwargs[name] != DEFAULTS[name]:
            infotext[INFOTEXT[name]] = kwargs[name]
    if kwargs.get("s_tmax", math.inf) < kwargs.get("s_tmin", 0.0):
        raise InvalidInput("s_tmax", f"{kwargs['s_tmax']!r} is below s_tmin {kwargs['s_tmin']!r}",
                           "a number >= s_tmin, or 0 for no limit")
    return kwargs, infotext
