"""A1111's `modules.hashes`: sha256 of files, cached in cache.json's "hashes" section by title with the file's
mtime (the layout Easel's checkpoint hashes use too, modules/models/hashing.py), and kohya's "addnet" hash of a
safetensors file's tensor data that LoRA tools show."""
from __future__ import annotations

import hashlib
import os

from modules.extensions.compat.cache import cache, dump_cache  # noqa: F401 - A1111 exports both here
from modules.models.hashing import sha256_file

BLOCK = 1024 * 1024


def calculate_sha256(filename) -> str:
    return sha256_file(filename)


def _section(use_addnet_hash: bool):
    return cache("hashes-addnet" if use_addnet_hash else "hashes")


def sha256_from_cache(filename, title: str, use_addnet_hash: bool = False) -> str | None:
    """The cached hash of `title` while the file is not newer than the entry, else None."""
    try:
        mtime = os.path.getmtime(filename)
    except FileNotFoundError:
        return None
    entry = _section(use_addnet_hash).get(title)
    if not isinstance(entry, dict) or entry.get("sha256") is None or mtime > entry.get("mtime", 0):
        return None
    return entry["sha256"]


def sha256(filename, title: str, use_addnet_hash: bool = False) -> str | None:
    """The file's hash (from the cache when valid, else computed and cached); None with --no-hashing."""
    found = sha256_from_cache(filename, title, use_addnet_hash)
    if found is not None:
        return found
    from modules.extensions.compat import shared

    if shared.cmd_opts.no_hashing:
        return None
    if use_addnet_hash:
        with open(filename, "rb") as f:
            value = addnet_hash_safetensors(f)
    else:
        value = calculate_sha256(filename)
    _section(use_addnet_hash)[title] = {"mtime": os.path.getmtime(filename), "sha256": value}
    return value


def addnet_hash_safetensors(b) -> str:
    """sha256 of a safetensors file after its header (8-byte little-endian length, then that much JSON)."""
    digest = hashlib.sha256()
    b.seek(0)
    header_len = int.from_bytes(b.read(8), "little")
    b.seek(header_len + 8)
    for block in iter(lambda: b.read(BLOCK), b""):
        digest.update(block)
    return digest.hexdigest()
