"""Open a checkpoint without running anything in it, and read its tensors lazily in the dtype we want.

`open_checkpoint(path)` gives a `TensorSource` (keys and shapes up front, data on `read`) for `.safetensors` (our
own reader) and `.ckpt`/`.pt`/`.pth`/`.bin` (torch.load through the restricted unpickler, A1111's rule).
`LazyStateDict` is the mapping view the conversion code consumes: a tensor is read and converted when looked up.
"""
from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import torch

from modules.errors import ModelLoadError, UnsafeCheckpoint
from modules.models.restricted_unpickle import restricted_pickle_module
from modules.models.safetensors_io import SafetensorsFile, convert

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


class TensorSource(Protocol):
    """What the loader needs from a checkpoint file."""

    path: Path

    def keys(self) -> list[str]: ...

    def shape(self, key: str) -> tuple[int, ...]: ...

    def read(self, key: str, dtype: torch.dtype | None = None, device=None,
             channels_last: bool = False) -> torch.Tensor: ...

    def close(self) -> None: ...


class TensorDictSource:
    """Tensors already in memory (a state dict an extension merged) read like a checkpoint file; `path` is the file
    they stand in for (its yaml config and VAE are that file's). Tensors are copied when read: the caller keeps its
    dict, and nothing read ever aliases a file's storage."""

    def __init__(self, path: Path | str, tensors: Mapping[str, torch.Tensor]):
        self.path = Path(path)
        self.tensors = state_dict_of(tensors, str(path))

    def keys(self) -> list[str]:
        return list(self.tensors)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.tensors[key].shape)

    def read(self, key: str, dtype: torch.dtype | None = None, device=None,
             channels_last: bool = False) -> torch.Tensor:
        return convert(self.tensors[key], dtype, device, channels_last, copy=True)

    def close(self) -> None:
        self.tensors = {}


class PickleSource(TensorDictSource):
    """A `.ckpt` loaded through the restricted unpickler, then read like tensors in memory."""

    def __init__(self, path: Path | str, disable_safe_unpickle: bool = False):
        self.path = Path(path)
        self.tensors = load_pickle_state_dict(self.path, disable_safe_unpickle)


def load_pickle_state_dict(path: Path, disable_safe_unpickle: bool = False) -> dict[str, torch.Tensor]:
    """torch.load with our restricted pickle module (or plain pickle when the user disabled the check)."""
    if not path.is_file():
        raise ModelLoadError(str(path), "file not found")
    module = pickle if disable_safe_unpickle else restricted_pickle_module(path)
    mmap = zipfile.is_zipfile(path)  # zip checkpoints are mapped, not copied into memory
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=module, weights_only=False, mmap=mmap)
    except UnsafeCheckpoint:
        raise
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError, zipfile.BadZipFile,
            AttributeError, ImportError, KeyError, TypeError) as e:
        raise ModelLoadError(str(path), f"not a readable checkpoint ({type(e).__name__}: {e})") from None
    return state_dict_of(obj, str(path))


def state_dict_of(obj: object, path: str) -> dict[str, torch.Tensor]:
    """The tensors of a loaded checkpoint, unwrapping Lightning's `state_dict` key (A1111 does the same)."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ModelLoadError(path, f"the file holds a {type(obj).__name__}, not a state dict")
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def open_checkpoint(path: Path | str, disable_safe_unpickle: bool = False) -> TensorSource:
    """A TensorSource for a weights file, chosen by extension; unknown extensions are refused."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        return SafetensorsFile(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return PickleSource(path, disable_safe_unpickle)
    raise ModelLoadError(str(path), f"unknown weights format {path.suffix!r} "
                                    f"(valid: .safetensors, {', '.join(PICKLE_SUFFIXES)})")


class LazyStateDict(Mapping):
    """A read-on-lookup view of a TensorSource, restricted to keys under `prefix` (kept in the names).

    `rename` maps a visible key to the file's key (old CLIP layouts); lookups never cache, so each tensor costs
    memory only while the caller holds it. `__contains__` answers from the key list without reading.
    """

    def __init__(self, source: TensorSource, dtype: torch.dtype | None = None, device=None, prefix: str = "",
                 rename: Callable[[str], str] | None = None, exclude: Callable[[str], bool] | None = None,
                 channels_last: bool = False):
        self.source, self.dtype, self.device, self.channels_last = source, dtype, device, channels_last
        rename = rename or (lambda k: k)
        names = source.keys()
        self._file_key = {rename(k): k for k in names if k.startswith(prefix) and not (exclude and exclude(k))}

    def __getitem__(self, key: str) -> torch.Tensor:
        try:
            file_key = self._file_key[key]
        except KeyError:
            raise KeyError(key) from None
        return self.source.read(file_key, self.dtype, self.device, self.channels_last)

    def __contains__(self, key: object) -> bool:
        return key in self._file_key

    def __iter__(self) -> Iterator[str]:
        return iter(self._file_key)

    def __len__(self) -> int:
        return len(self._file_key)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: self.source.shape(f) for k, f in self._file_key.items()}

    def meta(self) -> dict[str, torch.Tensor]:
        """Shape-only stand-ins (meta tensors) for code that inspects shapes but must not read data."""
        return {k: torch.empty(s, device="meta") for k, s in self.shapes().items()}
