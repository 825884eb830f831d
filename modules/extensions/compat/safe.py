"""A1111's `modules.safe`: loading .ckpt/.pt files through a restricted unpickler (Easel's,
modules/models/restricted_unpickle.py) unless --disable-safe-unpickle, and the escape hatches extensions use."""
from __future__ import annotations

import contextlib
import threading

from modules.models.restricted_unpickle import restricted_pickle_module

_extra = threading.local()  # an Extra handler active in this thread (A1111 allows one at a time)


def unsafe_torch_load(*args, **kwargs):
    """Plain torch.load, which may run code from the file: what A1111 names it (extensions that call it take the
    risk, as on A1111)."""
    import torch

    kwargs.setdefault("weights_only", False)
    return torch.load(*args, **kwargs)


def _checking_pickle(filename):
    module = restricted_pickle_module(filename)
    handler = getattr(_extra, "handler", None)
    if handler is None:
        return module
    base = module.Unpickler

    class WithExtra(base):
        def find_class(self, mod: str, name: str):
            found = handler(mod, name)
            return found if found is not None else super().find_class(mod, name)

    module.Unpickler = WithExtra
    module.load = lambda file, **kwargs: WithExtra(file, **kwargs).load()
    return module


def load(filename, *args, **kwargs):
    """torch.load with only tensors and plain containers allowed (or plain, with --disable-safe-unpickle)."""
    import torch

    from modules.extensions.compat import shared

    if shared.cmd_opts.disable_safe_unpickle:
        return unsafe_torch_load(filename, *args, **kwargs)
    kwargs.pop("weights_only", None)
    return torch.load(filename, *args, pickle_module=_checking_pickle(filename), weights_only=False, **kwargs)


def load_with_extra(filename, extra_handler=None, *args, **kwargs):
    """`load` with `extra_handler(module, name)` consulted first for each global the file asks for."""
    if extra_handler is None:
        return load(filename, *args, **kwargs)
    with _extra_handler(extra_handler):
        return load(filename, *args, **kwargs)


@contextlib.contextmanager
def _extra_handler(handler):
    if getattr(_extra, "handler", None) is not None:
        raise RuntimeError("an Extra handler is already active in this thread")
    _extra.handler = handler
    try:
        yield
    finally:
        _extra.handler = None


class Extra:
    """`with safe.Extra(handler): safe.load(...)`: `handler(module, name)` may allow more globals (return the
    object) or leave the decision to the restricted rules (return None)."""

    def __init__(self, handler):
        self.handler = handler
        self._context = None

    def __enter__(self):
        self._context = _extra_handler(self.handler)
        return self._context.__enter__()

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)
