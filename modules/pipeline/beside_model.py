"""A checkpoint a job loads beside its main model for part of its work (the refiner, the hires fix's own
checkpoint): loaded at its first use in the model manager's second slot (`ModelManager.refiner`) with the job's
VAE and FP8 settings, tiled like the main model, and handed back to the manager when the job ends."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modules.models.tiling import tiled
from modules.models.weight_storage import fp8_setting


def short_title(checkpoint) -> str:
    """A1111's `short_title` of a checkpoint in infotexts: `name [shorthash]` (the name alone without a hash)."""
    return f"{checkpoint.model_name} [{checkpoint.shorthash}]" if checkpoint.shorthash else checkpoint.model_name


@dataclass
class BesideModel:
    services: Any
    checkpoint: str  # a title, name or short hash the manager finds
    opts: Any
    tiling: bool = False
    _model: Any = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def model(self, check: Callable[[Any], None] = lambda model: None):
        """The loaded model; `check(model)` refuses one that cannot serve (it runs once, before the tiling)."""
        if self._model is None:
            loaded = self.services.models.refiner(self.checkpoint, self.opts.sd_vae, fp8_setting(self.opts))
            check(loaded)
            self._stack.enter_context(tiled(loaded, self.tiling))
            self._model = loaded
        return self._model

    def close(self) -> None:
        self._stack.close()
        self._model = None
        self.services.models.release_refiner()
