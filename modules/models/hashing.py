"""Checkpoint identity: sha256 of the whole file, short hash = first 10 hex characters.

Hashes are cached in the data dir's `cache.json` in A1111's layout,
`{"hashes": {"checkpoint/<name>": {"mtime": .., "size": .., "sha256": ..}}}`, and recomputed when the file's size
or mtime changes. Other top-level sections of cache.json (written by other parts) are kept as they are.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

BLOCK = 1024 * 1024
SHORT_LEN = 10
SECTION = "hashes"


def sha256_file(path: Path | str, block_size: int = BLOCK) -> str:
    """The sha256 hex digest of a file, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()


def short_hash(sha256: str | None) -> str:
    """First 10 hex characters, '' when unknown.

    >>> short_hash("6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa")
    '6ce0161689'
    >>> short_hash(None)
    ''
    """
    return (sha256 or "")[:SHORT_LEN]


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON next to `path` and rename over it, so a crash never leaves half a file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=4), encoding="utf-8")
    os.replace(tmp, path)


class HashCache:
    """sha256 per file, cached by key (`checkpoint/<name>`, `vae/<name>`) with size and mtime.

    `enabled=False` is `--no-hashing`: nothing is hashed and every lookup answers None.
    """

    def __init__(self, cache_path: Path | str, enabled: bool = True):
        self.cache_path = Path(cache_path)
        self.enabled = enabled
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _stat(path: Path) -> tuple[float, int]:
        st = os.stat(path)
        return st.st_mtime, st.st_size

    def cached(self, path: Path | str, key: str) -> str | None:
        """The cached sha256 when still valid for the file as it is now, else None (never hashes)."""
        if not self.enabled:
            return None
        try:
            mtime, size = self._stat(Path(path))
        except OSError:
            return None
        with self._lock:
            entry = self._read().get(SECTION, {}).get(key)
        if not isinstance(entry, dict) or entry.get("mtime") != mtime:
            return None
        if entry.get("size", size) != size:  # A1111's entries have no size; mtime alone then decides
            return None
        sha = entry.get("sha256")
        return sha if isinstance(sha, str) and len(sha) == 64 else None

    def sha256(self, path: Path | str, key: str) -> str | None:
        """The file's sha256, from the cache when valid, else computed and stored."""
        if not self.enabled:
            return None
        found = self.cached(path, key)
        if found:
            return found
        mtime, size = self._stat(Path(path))
        sha = sha256_file(path)
        with self._lock:
            data = self._read()
            stored = data.get(SECTION)
            section = stored if isinstance(stored, dict) else {}
            section[key] = {"mtime": mtime, "size": size, "sha256": sha}
            data[SECTION] = section
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.cache_path, data)
        return sha
