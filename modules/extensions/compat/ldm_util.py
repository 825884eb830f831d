"""`ldm.util` of the Stable Diffusion repository A1111 put on sys.path (repositories/stable-diffusion-stability-ai):
the small helpers extensions import from it. Each does what its name says; none touches Easel's models."""
from __future__ import annotations

import importlib
from typing import Any


def exists(x) -> bool:
    return x is not None


def default(value, fallback):
    """`value` unless it is None; `fallback` (called when it is a function) otherwise."""
    if exists(value):
        return value
    return fallback() if callable(fallback) else fallback


def ismap(x) -> bool:
    """A [B, C, H, W] tensor with more than 3 channels."""
    return hasattr(x, "shape") and len(x.shape) == 4 and x.shape[1] > 3


def isimage(x) -> bool:
    """A [B, C, H, W] tensor with 1 or 3 channels."""
    return hasattr(x, "shape") and len(x.shape) == 4 and x.shape[1] in (1, 3)


def mean_flat(tensor):
    """The mean over every dimension but the batch's."""
    return tensor.mean(dim=list(range(1, len(tensor.shape))))


def count_params(model, verbose: bool = False) -> int:
    total = sum(p.numel() for p in model.parameters())
    if verbose:
        print(f"{model.__class__.__name__} has {total * 1.e-6:.2f} M params.")
    return total


def get_obj_from_str(string: str, reload: bool = False) -> Any:
    """The object a dotted path "package.module.Name" names."""
    module, name = string.rsplit(".", 1)
    imported = importlib.import_module(module)
    if reload:
        imported = importlib.reload(imported)
    return getattr(imported, name)


def instantiate_from_config(config) -> Any:
    """`target(**params)` of a config mapping {"target": "pkg.Class", "params": {...}}."""
    if "target" not in config:
        if config in ("__is_first_stage__", "__is_unconditional__"):
            return None
        raise KeyError("Expected key `target` to instantiate.")
    return get_obj_from_str(config["target"])(**config.get("params", dict()))
