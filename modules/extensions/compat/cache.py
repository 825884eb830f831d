"""A1111's `modules.cache`: named sections of `cache.json` in the data dir, as dicts that write through.

A1111 1.10 keeps them in a diskcache folder; before 1.8 it kept them in cache.json, the file Easel's own hash cache
(modules/models/hashing.py) uses. Extensions only need a mapping per section (`cache("hashes")[title]`) and
`cached_data_for_file`, so each section here is a view onto one key of that file, read and written whole under a
lock, so Easel's checkpoint hashes and an extension's entries share the file without losing each other's.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import MutableMapping
from pathlib import Path

from modules.models.hashing import write_json_atomic

_lock = threading.RLock()


def _cache_path() -> Path:
    from modules.extensions.compat import paths_internal

    return Path(os.environ.get("SD_WEBUI_CACHE_FILE") or paths_internal.current_paths().cache_json)


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Section(MutableMapping):
    """One section of cache.json; every write is saved at once (A1111's `dump_cache` has nothing left to do)."""

    def __init__(self, name: str):
        self.name = name

    def _data(self) -> dict:
        section = _read(_cache_path()).get(self.name)
        return section if isinstance(section, dict) else {}

    def _write(self, change) -> None:
        with _lock:
            path = _cache_path()
            data = _read(path)
            section = data.get(self.name) if isinstance(data.get(self.name), dict) else {}
            change(section)
            data[self.name] = section
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, data)

    def __getitem__(self, key):
        return self._data()[key]

    def __setitem__(self, key, value) -> None:
        self._write(lambda section: section.__setitem__(key, value))

    def __delitem__(self, key) -> None:
        if key not in self._data():
            raise KeyError(key)
        self._write(lambda section: section.pop(key, None))

    def __iter__(self):
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


def cache(subsection: str) -> Section:
    """The section named `subsection` (created on first write)."""
    return Section(subsection)


def dump_cache() -> None:
    """Sections are saved on every write; kept because extensions call it after changing one."""


def cached_data_for_file(subsection: str, title: str, filename, func):
    """`func()`'s value for `filename`, cached under `title` until the file's mtime changes; None when func fails
    to give one (A1111's contract)."""
    section = cache(subsection)
    mtime = os.path.getmtime(filename)
    entry = section.get(title)
    if not isinstance(entry, dict) or mtime > entry.get("mtime", 0) or "value" not in entry:
        value = func()
        if value is None:
            return None
        entry = {"mtime": mtime, "value": value}
        section[title] = entry
    return entry["value"]


def __getattr__(name: str):
    if name == "cache_filename":
        return str(_cache_path())
    raise AttributeError(f"module 'modules.cache' has no attribute {name!r}")
