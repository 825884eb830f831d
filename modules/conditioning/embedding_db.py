"""The embeddings folder as the App owns it: which textual-inversion files exist, which loaded for the current
text encoder, and where their names sit in a prompt's tokens.

Apart from `embeddings` (file formats and the encoder hook, which need torch) so that building the App and the page
does not import torch (docs/architecture.md §4); the files are read, with torch, on the first `load_for`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from modules.conditioning.chunks import CHUNK_LENGTH
from modules.conditioning.tokenizer import tokenize
from modules.errors import ModelLoadError
from modules.models.hashing import sha256_file

if TYPE_CHECKING:
    from modules.conditioning.embeddings import Embedding

log = logging.getLogger(__name__)

EMBEDDING_SUFFIXES = (".pt", ".bin", ".safetensors")
PLACEHOLDER_TOKEN = 0  # A1111 fills embedding positions with token 0; the hook overwrites their vectors
SHORTHASH_LEN = 12  # A1111's `Embedding.shorthash`


def find_embedding_files(folder: Path) -> list[Path]:
    """`folder/**/*.{pt,bin,safetensors}`, following symlinks, sorted so loading order is stable."""
    if not folder.is_dir():
        return []
    found = []
    for root, _dirs, files in os.walk(folder, followlinks=True):
        found += [Path(root) / f for f in files if Path(f).suffix.lower() in EMBEDDING_SUFFIXES]
    return sorted(found, key=lambda p: str(p).lower())


class EmbeddingDatabase:
    """The embeddings of the data dir, loaded for one text-encoder width; owned by the App.

    `load_for(width, tokenizer)` re-reads the folder only when a file, the width or the tokenizer changed (A1111
    checks at every generation too). Not-loaded files: `skipped` (wrong width) and `errors` (unreadable).
    """

    def __init__(self, folders: Sequence[Path], hash_cache=None, disable_safe_unpickle: bool = False):
        self.folders = [Path(f) for f in folders]
        self.hash_cache = hash_cache
        self.disable_safe_unpickle = disable_safe_unpickle
        self.loaded: dict[str, Embedding] = {}
        self.skipped: dict[str, Embedding] = {}
        self.errors: dict[str, str] = {}
        self.key = ""  # changes whenever what a prompt can mean changes (for the conditioning cache)
        self._ids_lookup: dict[int, list[tuple[list[int], Embedding]]] = {}
        self._signature: tuple | None = None
        self._lock = threading.RLock()

    def _files(self) -> list[Path]:
        return [p for folder in self.folders for p in find_embedding_files(folder)]

    @staticmethod
    def _file_signature(paths: Sequence[Path]) -> tuple:
        stats = []
        for p in paths:
            try:
                st = p.stat()
                stats.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                stats.append((str(p), 0, 0))
        return tuple(stats)

    def load_for(self, width: int | None, tokenizer, force: bool = False) -> "EmbeddingDatabase":
        """Make the database match the folder for a text encoder of `width`; cheap when nothing changed.

        `width=None` (no model loaded yet) takes every width, as A1111 lists embeddings before a model loads;
        without a tokenizer nothing can be matched in prompts.
        """
        with self._lock:
            files = self._files()
            signature = (self._file_signature(files), width, id(tokenizer))
            if force or signature != self._signature:
                self._reload(files, width, tokenizer)
                self._signature = signature
                self.key = hashlib.sha1(repr(signature[:2]).encode()).hexdigest()[:16]
            return self

    def refresh(self) -> None:
        """Forget what was loaded; the next `load_for` reads every file again (`/refresh-embeddings`)."""
        with self._lock:
            self._signature = None

    def _reload(self, files: Sequence[Path], width: int, tokenizer) -> None:
        from modules.conditioning.embeddings import load_embedding

        loaded, skipped, errors = {}, {}, {}
        for path in files:  # a later file with the same name replaces an earlier one, as in A1111
            try:
                embedding = load_embedding(path, self.disable_safe_unpickle)
            except ModelLoadError as e:
                errors[path.stem] = e.message
                log.warning("textual inversion: %s", e.message)
                continue
            for table in (loaded, skipped, errors):
                table.pop(embedding.name, None)
            if width is not None and embedding.shape != width:
                skipped[embedding.name] = embedding
            elif embedding.vectors > CHUNK_LENGTH:
                errors[embedding.name] = (f"cannot load {path}: {embedding.vectors} vectors, more than the "
                                          f"{CHUNK_LENGTH} a prompt chunk holds")
            else:
                loaded[embedding.name] = embedding
        self.loaded, self.skipped, self.errors = loaded, skipped, errors
        self._ids_lookup = self._build_lookup(tokenizer, loaded.values())

    @staticmethod
    def _build_lookup(tokenizer, embeddings) -> dict[int, list[tuple[list[int], Embedding]]]:
        lookup: dict[int, list[tuple[list[int], Embedding]]] = {}
        for embedding in embeddings if tokenizer is not None else ():
            ids = tokenize(tokenizer, embedding.name)
            if ids:
                lookup.setdefault(ids[0], []).append((ids, embedding))
        for entries in lookup.values():
            entries.sort(key=lambda entry: len(entry[0]), reverse=True)  # longest name first
        return lookup

    def api_info(self) -> dict:
        """`/sdapi/v1/embeddings`: {loaded: {name: info}, skipped: {name: info}}."""
        with self._lock:
            return {"loaded": {n: e.api_info() for n, e in self.loaded.items()},
                    "skipped": {n: e.api_info() for n, e in self.skipped.items()}}

    def find_embedding_at_position(self, tokens: Sequence[int], offset: int) -> tuple[Embedding | None, int | None]:
        """The embedding whose name's tokens start at `tokens[offset]` (longest match) and that name's length."""
        for ids, embedding in self._ids_lookup.get(tokens[offset], ()):
            if list(tokens[offset:offset + len(ids)]) == ids:
                return embedding, len(ids)
        return None, None

    def replace_names(self, tokens: Sequence[int]) -> tuple[list[int], dict[int, tuple[int, Embedding]]]:
        """Tokens with every embedding name replaced by one placeholder per vector, and where each one starts.

        The map is what `chunk_tokens_counted(embeddings=…)` takes: position → (vectors, embedding).
        """
        out: list[int] = []
        spans: dict[int, tuple[int, Embedding]] = {}
        position = 0
        while position < len(tokens):
            embedding, length = self.find_embedding_at_position(tokens, position)
            if embedding is None:
                out.append(tokens[position])
                position += 1
                continue
            spans[len(out)] = (embedding.vectors, embedding)
            out += [PLACEHOLDER_TOKEN] * embedding.vectors
            position += length
        return out, spans

    def names_in(self, tokenizer, texts: Sequence[str], table: str = "loaded") -> list[str]:
        """Names from `self.<table>` (loaded, skipped, errors) whose tokens appear in `texts`, in order of first
        appearance (texts in order, then position)."""
        with self._lock:
            names = list(getattr(self, table))
        found = []
        token_lists = [tokenize(tokenizer, t) for t in texts]
        for name in names:
            ids = tokenize(tokenizer, name)
            where = [(i, _find(tokens, ids)) for i, tokens in enumerate(token_lists)] if ids else []
            where = [w for w in where if w[1] >= 0]
            if where:
                found.append((where[0], name))
        return [name for _, name in sorted(found)]

    def shorthash(self, name: str) -> str | None:
        """First 12 hex characters of the file's sha256 (A1111's TI hash); None with --no-hashing."""
        embedding = self.loaded.get(name) or self.skipped.get(name)
        if embedding is None or embedding.path is None:
            return None
        if self.hash_cache is None:
            return sha256_file(embedding.path)[:SHORTHASH_LEN]
        sha = self.hash_cache.sha256(embedding.path, f"textual_inversion/{name}")
        return sha[:SHORTHASH_LEN] if sha else None


def _find(tokens: Sequence[int], ids: Sequence[int]) -> int:
    """Where `ids` first occurs contiguously in `tokens`, or -1.

    >>> _find([1, 2, 3, 4], [2, 3]), _find([1, 2, 3], [3, 2])
    (1, -1)
    """
    n, ids = len(ids), list(ids)
    return next((i for i in range(len(tokens) - n + 1) if tokens[i] == ids[0] and list(tokens[i:i + n]) == ids), -1)
