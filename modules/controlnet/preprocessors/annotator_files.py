"""Where the weight files of network preprocessors (annotators) are found, and the networks loaded from them.

The files are the ones sd-webui-controlnet uses, in its folder names (`midas/`, `openpose/`), looked for under
`<data dir>/models/annotator/` and then the extension's own `extensions/sd-webui-controlnet/annotator/downloads/`
(docs/controlnet.md). Easel never downloads them: a missing file is reported with the path to put it at.
Pickled files go through the restricted unpickler, as checkpoints do (modules/models/safe_load.py).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from modules.errors import ModelLoadError
from modules.paths import Paths

DEFAULT_FOLDER = Path("models") / "annotator"  # shown when the registry was built without the App's paths


def annotator_roots(paths: Paths) -> tuple[Path, ...]:
    """The folders holding the extension's annotator sub-folders, first match winning."""
    return (paths.models_dir / "annotator",
            paths.extensions_dir / "sd-webui-controlnet" / "annotator" / "downloads")


@dataclass(frozen=True)
class AnnotatorFiles:
    """The weight files one preprocessor needs, in the extension's sub-folder `folder` of each root."""

    folder: str  # "midas", "openpose"
    files: tuple[str, ...]
    roots: tuple[Path, ...] = ()

    def find(self, name: str) -> Path | None:
        """The first root's copy of `name`, or None."""
        for root in self.roots:
            if (root / self.folder / name).is_file():
                return root / self.folder / name
        return None

    def wanted_path(self, name: str) -> Path:
        """Where the docs tell the user to put `name` (the first root)."""
        return (self.roots[0] if self.roots else DEFAULT_FOLDER) / self.folder / name

    def missing(self) -> tuple[Path, ...]:
        return tuple(self.wanted_path(n) for n in self.files if self.find(n) is None)

    def paths(self) -> tuple[Path, ...]:
        """Every file's found path (the registry checked them; one removed since is reported naming it)."""
        found = []
        for name in self.files:
            path = self.find(name)
            if path is None:
                raise ModelLoadError(str(self.wanted_path(name)), "file not found")
            found.append(path)
        return tuple(found)


def load_state_dict(path: Path, disable_safe_unpickle: bool = False) -> dict:
    """The tensors of an annotator file (`.pth`/`.pt` through the restricted unpickler, or `.safetensors`)."""
    from modules.models.safe_load import load_pickle_state_dict

    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return load_pickle_state_dict(path, disable_safe_unpickle)


@dataclass
class NetworkCache:
    """The last few annotator networks built, keyed by file and its size and mtime (so a replaced file is reloaded).
    Owned by the App's preprocessor registry; loading a 500 MB file on every preview would be slow. Four fit
    depth and openpose_full's three networks together (about 1 GB in float32)."""

    capacity: int = 4
    disable_safe_unpickle: bool = False
    _nets: OrderedDict = field(default_factory=OrderedDict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def get(self, paths: tuple[Path, ...], build: Callable[[list[dict]], object]):
        """The network `build` makes from the state dicts of `paths`, built once per file version."""
        key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
        with self._lock:
            if key in self._nets:
                self._nets.move_to_end(key)
                return self._nets[key]
            net = build([load_state_dict(p, self.disable_safe_unpickle) for p in paths])
            self._nets[key] = net
            while len(self._nets) > self.capacity:
                self._nets.popitem(last=False)
            return net
