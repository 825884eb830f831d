"""Request fields that fall back to a setting when unset (A1111: `p.tiling`, `p.s_min_uncond`), resolved once per
run into plain values with their infotext entries."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def tiling_enabled(req, opts) -> bool:
    """The request's `tiling`, or the "tiling" setting when the request leaves it unset (None)."""
    return bool(opts.tiling if req.tiling is None else req.tiling)


def tiling_infotext(enabled: bool) -> dict[str, Any]:
    """A1111 writes `Tiling: True` only when tiling was on."""
    return {"Tiling": "True"} if enabled else {}


@dataclass(frozen=True)
class NegativeGuidanceMinimum:
    """A1111's NGMS: below `sigma` the negative prompt's UNet pass is skipped on every other model call (every
    call with `all_steps`), saving time when the picture is nearly done. `sigma` 0 is off."""

    sigma: float = 0.0
    all_steps: bool = False

    def cfg_fields(self) -> dict[str, Any]:
        """Keyword arguments for `CFGDenoiser`."""
        return {"s_min_uncond": self.sigma, "s_min_uncond_all": self.all_steps}

    def infotext(self) -> dict[str, Any]:
        """Entries A1111 adds once a pass was actually skipped.

        >>> NegativeGuidanceMinimum(2.5).infotext(), NegativeGuidanceMinimum(2.5, True).infotext()
        ({'NGMS': 2.5}, {'NGMS': 2.5, 'NGMS all steps': True})
        """
        return {"NGMS": self.sigma, **({"NGMS all steps": True} if self.all_steps else {})}

    def note_skips(self, cfg, notes: dict | None) -> None:
        """After a sampling pass: record the NGMS entries in the run's infotext `notes` if `cfg` skipped any
        uncond pass."""
        if notes is not None and getattr(cfg, "uncond_skipped", False):
            notes.update(self.infotext())


def negative_guidance_minimum(req, opts) -> NegativeGuidanceMinimum:
    """The request's `s_min_uncond` (None: the setting), with the "all steps" setting."""
    sigma = opts.s_min_uncond if req.s_min_uncond is None else req.s_min_uncond
    return NegativeGuidanceMinimum(float(sigma), bool(opts.s_min_uncond_all))
