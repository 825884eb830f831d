"""A pickle module for `torch.load` that admits only tensors, storages, ordered dicts and a few numpy scalars.

A `.ckpt` is a pickle, and a pickle may name any global and call it: `os.system` in a `__reduce__` runs on load.
Like A1111's `modules/safe.py`, `find_class` answers from an allowlist and refuses everything else with
`UnsafeCheckpoint`, so nothing in the file runs. Storage classes never reach it (torch's own unpickler wrapper
turns `*Storage` names into inert storage types first).
"""
from __future__ import annotations

import _codecs
import collections
import pickle
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import torch
from numpy._core import multiarray as numpy_multiarray

from modules.errors import UnsafeCheckpoint

TORCH_REBUILDERS = {"_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                    "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy"}
TORCH_STORAGES = {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "IntStorage", "LongStorage",
                  "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage", "UntypedStorage"}
NUMPY_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")


class InertObject:
    """Stands in for pytorch_lightning's ModelCheckpoint callback state: keeps the data, has no behaviour."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


INERT_GLOBALS = {
    ("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"),
    ("lightning.pytorch.callbacks.model_checkpoint", "ModelCheckpoint"),
}


def allowed_global(module: str, name: str):
    """The object a pickle may refer to as `module.name`, or None when it is not allowed.

    >>> allowed_global("collections", "OrderedDict") is collections.OrderedDict
    True
    >>> allowed_global("torch", "float16")
    torch.float16
    >>> allowed_global("os", "system") is None
    True
    >>> allowed_global("torch", "load") is None
    True
    """
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "torch._utils" and name in TORCH_REBUILDERS:
        return getattr(torch._utils, name, None)
    if module == "torch" and name in TORCH_STORAGES:
        return getattr(torch, name, None)
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    if module == "torch" and name == "Size":
        return torch.Size
    if module in NUMPY_MULTIARRAY and name in ("scalar", "_reconstruct"):
        return getattr(numpy_multiarray, name)
    if module == "numpy" and name in ("dtype", "ndarray"):
        return getattr(numpy, name)
    if module == "numpy.dtypes" and name.endswith("DType") and name[:1].isupper():
        return getattr(numpy.dtypes, name, None)
    if module == "_codecs" and name == "encode":
        return _codecs.encode
    if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "slice"):
        return {"set": set, "frozenset": frozenset, "slice": slice}[name]
    if (module, name) in INERT_GLOBALS:
        return InertObject
    return None


class _PickleModule(types.ModuleType):
    """The two names of the `pickle` module that `torch.load` calls, declared so they can be set."""

    Unpickler: type[pickle.Unpickler]
    load: Callable[..., Any]


def restricted_pickle_module(path: Path | str) -> types.ModuleType:
    """A module with `Unpickler` and `load` (what `torch.load(pickle_module=...)` uses) refusing for `path`."""

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            found = allowed_global(module, name)
            if found is None:
                raise UnsafeCheckpoint(str(path), f"the file asks for '{module}.{name}', which is not allowed in a "
                                                  "checkpoint (only tensors and plain containers are); nothing from "
                                                  "it was run (--disable-safe-unpickle skips this check)")
            return found

    module = _PickleModule("easel_restricted_pickle")
    module.Unpickler = RestrictedUnpickler
    module.load = lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load()
    return module
