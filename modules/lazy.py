"""A function or class named by module and attribute, imported on its first call.

Why: tables the page and the API read at start-up (samplers, schedulers, job kinds) name code that needs torch.
Holding these references instead of the objects lets the server answer before torch is imported
(docs/architecture.md §4); the import happens when a row's code first runs, or earlier in the background warm-up.
"""
from __future__ import annotations

import importlib
from typing import Any


class Deferred:
    """Callable stand-in for `module.name`: `Deferred("modules.sampling.karras", "sample_euler")(...)` imports the
    module once and calls the real object with the same arguments.

    >>> sqrt = Deferred("math", "sqrt")
    >>> sqrt(4.0), sqrt == Deferred("math", "sqrt"), sqrt
    (2.0, True, <deferred math.sqrt>)
    """

    __slots__ = ("module", "name", "_target")

    def __init__(self, module: str, name: str):
        self.module, self.name, self._target = module, name, None

    def resolve(self) -> Any:
        """The real object (the import happens here, once)."""
        if self._target is None:
            self._target = getattr(importlib.import_module(self.module), self.name)
        return self._target

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __eq__(self, other) -> bool:
        if isinstance(other, Deferred):
            return (self.module, self.name) == (other.module, other.name)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.module, self.name))

    def __repr__(self) -> str:
        return f"<deferred {self.module}.{self.name}>"
