"""`k_diffusion`, the k-diffusion repository A1111 put on sys.path, as extensions import it: `external` (the model
as a denoiser, A1111's `inner_model`), `utils` and `sampling` (Easel's sampler functions, which do k-diffusion's
maths). Its training and evaluation code is not part of Easel."""
from __future__ import annotations

import importlib

_SUBMODULES = ("external", "utils", "sampling")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"k_diffusion.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel's k_diffusion has {', '.join(_SUBMODULES)}; not {name} (k-diffusion's training "
                         "and evaluation code is not part of Easel; docs/a1111-compat.md)")
