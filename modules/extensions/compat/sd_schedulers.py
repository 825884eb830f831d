"""A1111's `modules.sd_schedulers`: the schedule types (`schedulers`, `schedulers_map`, `Scheduler`), read from the
App's sampler registry."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from modules.extensions.compat import binding


@dataclasses.dataclass
class Scheduler:
    name: str
    label: str
    function: Callable | None = None
    default_rho: float = -1
    need_inner_model: bool = False
    aliases: list | None = None


def _all() -> list[Scheduler]:
    return [Scheduler(s.name, s.label, s.function, s.default_rho, s.need_inner_model, [*s.aliases] or None)
            for s in binding.app().services.samplers.schedulers]


def _map() -> dict[str, Scheduler]:
    rows = _all()
    return {**{row.name: row for row in rows}, **{row.label: row for row in rows}}


def __getattr__(name: str) -> Any:
    if name == "schedulers":
        return _all()
    if name == "schedulers_map":
        return _map()
    raise AttributeError(f"module 'modules.sd_schedulers' has no attribute {name!r}")
