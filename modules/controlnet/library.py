"""The ControlNet models on disk: listing under sd-webui-controlnet's names, lookup, and a small cache of loaded ones.

Folders (in this order; a name found earlier wins, as in the extension): `models/ControlNet/` of the data dir, the
extension's own `extensions/sd-webui-controlnet/models/`, and the install folder's `models/ControlNet/` (where a
built-in ControlNet ships). Files `**/*.{pt,pth,ckpt,safetensors,bin}`; a folder holding a diffusers ControlNet
(`config.json` naming `ControlNetModel`) is one entry named after the folder. Names are the extension's:
`<file stem> [<A1111's legacy 8-digit hash>]`. Walking and hashing need no torch; loading imports it.
"""
from __future__ import annotations

import builtins
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modules.errors import EaselError, InvalidInput
from modules.paths import Paths

SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")
NONE = "None"


@dataclass(frozen=True)
class ControlNetInfo:
    """One ControlNet entry: a weights file or a diffusers folder, and its listed name."""

    name: str
    path: Path

    @property
    def stem(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name


def controlnet_dirs(paths: Paths) -> tuple[Path, ...]:
    """Where ControlNet models are looked for, first match winning."""
    dirs = [paths.models_dir / "ControlNet", paths.extensions_dir / "sd-webui-controlnet" / "models",
            paths.install_dir / "models" / "ControlNet"]
    return tuple(dict.fromkeys(d.resolve() if d.exists() else d for d in dirs))


def legacy_hash(path: Path) -> str:
    """A1111's old model hash, which the extension shows beside each name: sha256 of the 64 KiB at offset 1 MiB,
    first 8 hex digits; "NOFILE" when unreadable. A diffusers folder hashes its weights file."""
    if path.is_dir():
        found = [path / n for n in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
                 if (path / n).is_file()]
        if not found:
            return "NOFILE"
        path = found[0]
    try:
        with open(path, "rb") as f:
            f.seek(0x100000)
            return hashlib.sha256(f.read(0x10000)).hexdigest()[:8]
    except OSError:
        return "NOFILE"


def is_diffusers_folder(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("_class_name") == "ControlNetModel"


def walk_entries(root: Path) -> list[Path]:
    """Weights files and diffusers folders under `root`, following symlinks; a diffusers folder's files are its own."""
    if not root.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        if here != root and is_diffusers_folder(here):
            found.append(here)
            dirs.clear()
            continue
        dirs.sort()
        found += [here / f for f in sorted(files) if Path(f).suffix.lower() in SUFFIXES]
    return found


def find_controlnets(dirs: Sequence[Path], hash_of=legacy_hash) -> list[ControlNetInfo]:
    """Entries of all folders, each folder's sorted by file name; a stem already seen in an earlier folder is
    skipped (the extension's order), and a file called "None" is never listed."""
    seen: set[str] = set()
    out = []
    for root in dirs:
        entries = sorted(walk_entries(Path(root)), key=lambda p: (p.stem if p.is_file() else p.name).lower())
        for path in entries:
            stem = path.stem if path.is_file() else path.name
            if stem == NONE or stem.lower() in seen:
                continue
            seen.add(stem.lower())
            out.append(ControlNetInfo(f"{stem} [{hash_of(path)}]", path))
    return out


def match_name(name: str, infos: Sequence[ControlNetInfo]) -> ControlNetInfo | None:
    """The entry `name` means: its listed name, or the same without the " [hash]" part on either side.

    >>> infos = [ControlNetInfo("control_canny [abcd1234]", Path("/m/control_canny.pth"))]
    >>> match_name("control_canny", infos).name, match_name("control_canny [00000000]", infos).name
    ('control_canny [abcd1234]', 'control_canny [abcd1234]')
    >>> match_name("other", infos) is None
    True
    """
    for info in infos:
        if info.name == name:
            return info
    bare = name.split(" [")[0].lower()
    return next((i for i in infos if i.name.split(" [")[0].lower() == bare), None)


class ControlNetLibrary:
    """The ControlNet models of an App: listing (rescanned on request), lookup, and the last `keep` loaded
    networks (keyed by file, its mtime and size, the checkpoint architecture and the dtype)."""

    def __init__(self, dirs: Sequence[Path], disable_safe_unpickle: bool = False, keep: int = 2):
        self.dirs = tuple(Path(d) for d in dirs)
        self.disable_safe_unpickle = disable_safe_unpickle
        self.keep = keep
        self._lock = threading.Lock()
        self._loaded: OrderedDict = OrderedDict()
        self._hashes: dict[tuple, str] = {}

    def list(self) -> list[ControlNetInfo]:
        return find_controlnets(self.dirs, self._hash)

    def names(self) -> builtins.list[str]:  # `list` here is the method above
        """The extension's model_list: listed names (without its leading "None")."""
        return [i.name for i in self.list()]

    def find(self, name: str, field: str) -> ControlNetInfo:
        infos = self.list()
        info = match_name(name, infos) if name not in (NONE, "") else None
        if info is None:
            problem = "no ControlNet model chosen" if name in (NONE, "") else f"unknown ControlNet model {name!r}"
            raise InvalidInput(field, problem, ", ".join(i.name for i in infos) or
                               f"none installed: put ControlNet files in {self.dirs[0]}")
        return info

    def load(self, info: ControlNetInfo, unet, dtype, device, field: str, checkpoint: str = "the checkpoint"):
        """The loaded ControlNet for `info` on the checkpoint whose UNet is `unet`; any problem with the file is
        reported on `field` (the unit's model field) with the file named."""
        from modules.controlnet.model import check_fits, load_controlnet

        key = (str(info.path), _stamp(info.path), json.dumps(dict(unet.config), sort_keys=True, default=str),
               str(dtype), str(device))
        with self._lock:
            control = self._loaded.get(key)
            if control is None:
                try:
                    control = load_controlnet(info.path, info.name, unet.config, dtype, device,
                                              self.disable_safe_unpickle)
                except EaselError as e:
                    raise InvalidInput(field, e.message) from None
                self._loaded[key] = control
                while len(self._loaded) > max(self.keep, 1):
                    self._loaded.popitem(last=False)
            self._loaded.move_to_end(key)
        check_fits(control, unet, checkpoint, field)
        share_attention(unet, control.net)
        return control

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()

    def _hash(self, path: Path) -> str:
        key = (str(path), _stamp(path))
        if key not in self._hashes:
            self._hashes[key] = legacy_hash(path)
        return self._hashes[key]


def share_attention(unet, control_net) -> None:
    """The ControlNet attends as its UNet does when the UNet has one processor for every layer (Easel's bf16 CPU
    attention, modules/models/onednn_attention.py); diffusers' default gives each layer its own and is left alone."""
    processors = {id(p): p for p in unet.attn_processors.values()}
    if len(processors) == 1:
        control_net.set_attn_processor(next(iter(processors.values())))


def _stamp(path: Path) -> tuple[int, int]:
    target = path if path.is_file() else path / "config.json"
    try:
        st = target.stat()
    except OSError:
        return (0, 0)
    return st.st_mtime_ns, st.st_size
