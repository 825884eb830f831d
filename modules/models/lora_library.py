"""The LoRA files of `models/Lora/**/*.{safetensors,pt,ckpt}`: listing, lookup by name or alias,
reading (safetensors, or pickles through the restricted unpickler) and A1111's short hashes for the infotext.
The readers (torch) are imported when a file is first read: the App is built before torch
loads (docs/architecture.md §4).
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from modules.errors import ModelLoadError
from modules.models.hashing import sha256_file

if TYPE_CHECKING:
    import torch

    from modules.models.lora import LoraInfo, LoraNetwork

LORA_SUFFIXES = (".safetensors", ".pt", ".ckpt")
SHORTHASH_LEN = 12  # A1111's `NetworkOnDisk.shorthash`


def read_lora_info(path: Path) -> LoraInfo:
    from modules.models.lora import LoraInfo
    from modules.models.safetensors_io import SafetensorsFile

    metadata: dict = {}
    if path.suffix.lower() == ".safetensors":
        try:
            with SafetensorsFile(path) as source:
                metadata = dict(source.metadata or {})
        except ModelLoadError:
            metadata = {}
    alias = metadata.get("ss_output_name") or path.stem
    return LoraInfo(path.stem, path, str(alias), metadata)


def find_lora_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = []
    for root, _dirs, files in os.walk(folder, followlinks=True):
        found += [Path(root) / f for f in files if Path(f).suffix.lower() in LORA_SUFFIXES]
    return sorted(found, key=lambda p: str(p).lower())


def read_lora_tensors(path: Path, disable_safe_unpickle: bool = False) -> dict[str, torch.Tensor]:
    from modules.models.safe_load import load_pickle_state_dict
    from modules.models.safetensors_io import SafetensorsFile

    if path.suffix.lower() == ".safetensors":
        with SafetensorsFile(path) as source:
            names = source.keys()
            return {k: source.read(k) for k in names}
    return load_pickle_state_dict(path, disable_safe_unpickle)


def addnet_hash(path: Path) -> str:
    """kohya's hash of a safetensors file: sha256 of everything after the header (what A1111 and civitai use)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        f.seek(8 + header_len)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_identity(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


class LoraLibrary:
    """The LoRA files of `models/Lora` (App-owned): listing, lookup by name or alias, parsed files (a small LRU),
    short hashes for the infotext. The weights themselves are patched by the ModelManager."""

    def __init__(self, folder: Path, disable_safe_unpickle: bool = False, keep_in_memory: int = 2,
                 hashing: bool = True):
        self.folder = Path(folder)
        self.disable_safe_unpickle = disable_safe_unpickle
        self.hashing = hashing  # False: --no-hashing, no `Lora hashes` in the infotext
        self.keep_in_memory = keep_in_memory
        self._infos: list[LoraInfo] | None = None
        self._parsed: OrderedDict[tuple, LoraNetwork] = OrderedDict()
        self._hashes: dict[tuple, str] = {}

    def list(self, refresh: bool = False) -> list[LoraInfo]:
        if self._infos is None or refresh:
            self._infos = [read_lora_info(p) for p in find_lora_files(self.folder)]
        return list(self._infos)

    def find(self, name: str) -> LoraInfo | None:
        """By file stem, then alias; re-scans the folder once before giving up."""
        for refresh in (False, True):
            infos = self.list(refresh)
            found = next((i for i in infos if i.name == name), None) or next((i for i in infos if i.alias == name),
                                                                             None)
            if found is not None:
                return found
        return None

    def load(self, info: LoraInfo) -> LoraNetwork:
        """The parsed file (ModelLoadError naming it when it is not a LoRA we can read)."""
        if not info.path.is_file():
            raise ModelLoadError(str(info.path), "file not found (was it moved? the list was refreshed)")
        identity = _file_identity(info.path)
        network = self._parsed.get(identity)
        if network is None:
            from modules.models.lora import LoraNetwork, parse_lora

            layers = parse_lora(read_lora_tensors(info.path, self.disable_safe_unpickle), info.path)
            network = LoraNetwork(info, layers, f"{info.name}@{identity[1]}:{identity[2]}")
            self._parsed[identity] = network
            while len(self._parsed) > max(self.keep_in_memory, 1):
                self._parsed.popitem(last=False)
        self._parsed.move_to_end(identity)
        return network

    def shorthash(self, info: LoraInfo) -> str | None:
        """12 hex characters: kohya's addnet hash for .safetensors, the file's sha256 otherwise (as A1111)."""
        if not self.hashing:
            return None
        identity = _file_identity(info.path)
        if identity not in self._hashes:
            if info.path.suffix.lower() == ".safetensors":
                self._hashes[identity] = addnet_hash(info.path)
            else:
                self._hashes[identity] = sha256_file(info.path)
        return self._hashes[identity][:SHORTHASH_LEN]
