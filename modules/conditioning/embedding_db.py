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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def slot_widths(slots: Mapping[str, Any]) -> dict[str, int]:
    """A model's text encoders as embeddings see them, {slot: width}, from its `text_slots()` (TextSlot values).

    >>> from types import SimpleNamespace as S
    >>> slot_widths({"clip_l": S(hidden_size=768), "clip_g": S(hidden_size=1280)})
    {'clip_l': 768, 'clip_g': 1280}
    """
    return {name: int(slot.hidden_size) for name, slot in slots.items()}


def _as_widths(width: int | Mapping[str, int] | None) -> dict[str, int] | None:
    """`load_for`'s first argument as {slot: width}: a bare width is one CLIP ViT-L-style encoder (SD 1.x, 2.x)."""
    if width is None:
        return None
    return {"clip_l": int(width)} if isinstance(width, int) else dict(width)


class EmbeddingDatabase:
    """The embeddings of the data dir, loaded for one model's text encoders; owned by the App.

    `load_for(widths, tokenizer)` sorts the folder's files again only when a file, the encoders or the tokenizer
    changed (A1111 checks at every generation too); a file is read again only when it changed, so switching between
    a model and its refiner is cheap. Not-loaded files: `skipped` (made for other text encoders) and `errors`
    (unreadable).
    """

    def __init__(self, folders: Sequence[Path], hash_cache=None, disable_safe_unpickle: bool = False):
        self.folders = [Path(f) for f in folders]
        self.hash_cache = hash_cache
        self.disable_safe_unpickle = disable_safe_unpickle
        self.loaded: dict[str, Embedding] = {}
        self.skipped: dict[str, Embedding] = {}
        self.errors: dict[str, str] = {}
        self.key = ""  # changes whenever what a prompt can mean changes (for the conditioning cache)
        self.widths: dict[str, int] | None = None  # the text encoders loaded for ({slot: width}; None: any)
        self._ids_lookup: dict[int, list[tuple[list[int], Embedding]]] = {}
        self._signature: tuple | None = None
        self._read: dict[str, tuple[tuple, Embedding | ModelLoadError]] = {}  # path → (its stat, what it gave)
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

    def load_for(self, width: int | Mapping[str, int] | None, tokenizer,
                 force: bool = False) -> EmbeddingDatabase:
        """Make the database match the folder for a model's text encoders; cheap when nothing changed.

        `width`: {slot: width} of the model's text encoders (`slot_widths(model.text_slots())`; SDXL:
        {"clip_l": 768, "clip_g": 1280}), or one width for a single CLIP-style encoder. None (no model loaded yet)
        takes every embedding, as A1111 lists them before a model loads; without a tokenizer nothing can be
        matched in prompts.
        """
        widths = _as_widths(width)
        with self._lock:
            files = self._files()
            signature = (self._file_signature(files), tuple(sorted((widths or {}).items())) if widths else None,
                         id(tokenizer))
            if force or signature != self._signature:
                self._reload(files, widths, tokenizer, force)
                self._signature = signature
                self.key = hashlib.sha1(repr(signature[:2]).encode()).hexdigest()[:16]
            return self

    def load_for_model(self, model) -> EmbeddingDatabase:
        """`load_for` the text encoders of a loaded model (anything with `text_slots()`)."""
        slots = model.text_slots()
        tokenizer = next(iter(slots.values())).tokenizer if slots else None
        return self.load_for(slot_widths(slots), tokenizer)

    def refresh(self) -> None:
        """Forget what was loaded; the next `load_for` reads every file again (`/refresh-embeddings`)."""
        with self._lock:
            self._signature = None
            self._read.clear()

    def _read_file(self, path: Path, stat: tuple) -> Embedding:
        """The file's embedding (or its ModelLoadError, raised), read again only when its stat changed."""
        from modules.conditioning.embeddings import load_embedding

        seen = self._read.get(str(path))
        if seen is None or seen[0] != stat:
            try:
                seen = stat, load_embedding(path, self.disable_safe_unpickle)
            except ModelLoadError as e:
                seen = stat, e
            self._read[str(path)] = seen
        if isinstance(seen[1], ModelLoadError):
            raise seen[1]
        return seen[1]

    def _reload(self, files: Sequence[Path], widths: dict[str, int] | None, tokenizer, force: bool) -> None:
        if force:
            self._read.clear()
        loaded: dict[str, Embedding] = {}
        skipped: dict[str, Embedding] = {}
        errors: dict[str, str] = {}  # name → why it was not loaded
        stats = {s[0]: s for s in self._file_signature(files)}
        self._read = {k: v for k, v in self._read.items() if k in stats}  # forget deleted files
        for path in files:  # a later file with the same name replaces an earlier one, as in A1111
            try:
                embedding = self._read_file(path, stats[str(path)])
            except ModelLoadError as e:
                errors[path.stem] = e.message
                log.warning("textual inversion: %s", e.message)
                continue
            for table in (loaded, skipped, errors):
                table.pop(embedding.name, None)
            if widths is not None and not embedding.fits(widths):
                skipped[embedding.name] = embedding
            elif embedding.vectors > CHUNK_LENGTH:
                errors[embedding.name] = (f"cannot load {path}: {embedding.vectors} vectors, more than the "
                                          f"{CHUNK_LENGTH} a prompt chunk holds")
            else:
                loaded[embedding.name] = embedding
        shown = (tuple(loaded), tuple(skipped))
        if shown != (tuple(self.loaded), tuple(self.skipped)) and (loaded or skipped):
            log.info("Textual inversion embeddings loaded(%d): %s", len(loaded), ", ".join(loaded))
            if skipped:
                log.info("Textual inversion embeddings skipped(%d): %s", len(skipped), ", ".join(skipped))
        self.loaded, self.skipped, self.errors, self.widths = loaded, skipped, errors, widths
        self._ids_lookup = self._build_lookup(tokenizer, loaded.values())

    def misfit(self, name: str) -> str:
        """Why the skipped embedding `name` is not used, for the run's warnings."""
        embedding = self.skipped[name]
        wanted = " + ".join(f"{k} {v}" for k, v in (self.widths or {}).items())
        return (f"embedding {name} not used: its vectors are for other text encoders ({embedding.describe()}); "
                f"this model's are {wanted}")

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
            if embedding is None or length is None:  # both None or both set
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
