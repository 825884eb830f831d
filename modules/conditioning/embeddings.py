"""Textual inversion (Gal et al. 2022, "An Image is Worth One Word"): learned vectors named by a file's stem.

Files are `embeddings/**/*.{pt,bin,safetensors}` in the three layouts A1111 reads (COMPAT §1): A1111's own
`{'string_to_param': {'*': T}}`, `{'emb_params': T}` (safetensors) and a dict of one tensor (diffusers' concept
files). Pickles go through the restricted unpickler, never a plain `torch.load`. An embedding whose width differs
from the loaded model's text encoder is kept aside as *skipped* (the `/sdapi/v1/embeddings` answer).

In a prompt, the tokens of an embedding's name are replaced by as many placeholder positions as it has vectors
(longest name first, A1111's `find_embedding_at_position`); at encoding time a forward hook on the text encoder's
token embedding writes the vectors into those positions, for that call only, so the model is never changed.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from modules.conditioning.chunks import CHUNK_LENGTH, PromptChunkFix
from modules.conditioning.tokenizer import tokenize
from modules.errors import ModelLoadError
from modules.models.hashing import sha256_file
from modules.models.restricted_unpickle import restricted_pickle_module
from modules.models.safetensors_io import SafetensorsFile

log = logging.getLogger(__name__)

EMBEDDING_SUFFIXES = (".pt", ".bin", ".safetensors")
PLACEHOLDER_TOKEN = 0  # A1111 fills embedding positions with token 0; the hook overwrites their vectors
SHORTHASH_LEN = 12  # A1111's `Embedding.shorthash`


@dataclass(eq=False)
class Embedding:
    """One textual-inversion embedding: `vec` [n, C] float32, named after its file."""

    name: str
    vec: torch.Tensor  # [n, C]
    path: Path | None = None
    step: int | None = None
    sd_checkpoint: str | None = None
    sd_checkpoint_name: str | None = None

    @property
    def shape(self) -> int:
        """The vector width C (768 for SD1's CLIP ViT-L/14)."""
        return int(self.vec.shape[-1])

    @property
    def vectors(self) -> int:
        return int(self.vec.shape[0])

    def api_info(self) -> dict:
        """The per-embedding entry of `/sdapi/v1/embeddings`."""
        return {"step": self.step, "sd_checkpoint": self.sd_checkpoint,
                "sd_checkpoint_name": self.sd_checkpoint_name, "shape": self.shape, "vectors": self.vectors}


def _single_tensor(mapping: Mapping, what: str) -> torch.Tensor:
    tensors = [v for v in mapping.values() if isinstance(v, torch.Tensor)]
    if len(tensors) != 1 or len(mapping) != 1:
        raise ValueError(f"{what} holds {len(mapping)} entries; an embedding file has exactly one term")
    return tensors[0]


def embedding_from_data(data: object, name: str, path: Path | None = None) -> Embedding:
    """An Embedding from a loaded file's contents, in any of the three layouts (A1111's
    `create_embedding_from_data`); anything else is a ValueError saying what was found.

    >>> embedding_from_data({"string_to_param": {"*": torch.ones(2, 4)}, "step": 5}, "a").vectors
    2
    >>> embedding_from_data({"emb_params": torch.ones(3, 4)}, "b").shape
    4
    >>> embedding_from_data({"<cat-toy>": torch.ones(4)}, "c").vec.shape
    torch.Size([1, 4])
    >>> embedding_from_data({"x": 1}, "d")
    Traceback (most recent call last):
    ValueError: neither a textual-inversion embedding nor a diffusers concept (keys: x)
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"holds a {type(data).__name__}, not a dict of tensors")
    extras = {}
    if "string_to_param" in data:
        params = data["string_to_param"]
        params = getattr(params, "_parameters", params)  # files saved from an nn.ParameterDict
        if not isinstance(params, Mapping):
            raise ValueError("'string_to_param' is not a dict")
        vec = _single_tensor(params, "'string_to_param'")
        extras = {k: data.get(k) for k in ("step", "sd_checkpoint", "sd_checkpoint_name")}
    elif isinstance(data.get("emb_params"), torch.Tensor):
        vec = data["emb_params"]
    elif data and all(isinstance(v, torch.Tensor) for v in data.values()):
        vec = _single_tensor(data, "the file")
    else:
        keys = ", ".join(sorted(str(k) for k in data)[:8])
        raise ValueError(f"neither a textual-inversion embedding nor a diffusers concept (keys: {keys})")
    vec = vec.detach().to(device="cpu", dtype=torch.float32)
    if vec.ndim == 1:
        vec = vec.unsqueeze(0)  # [C] -> [1, C]
    if vec.ndim != 2 or vec.shape[0] < 1:
        raise ValueError(f"vectors of shape {tuple(vec.shape)}; expected [vectors, width]")
    step = extras.get("step")
    return Embedding(name, vec, path, step=step if isinstance(step, int) else None,
                     sd_checkpoint=_text_or_none(extras.get("sd_checkpoint")),
                     sd_checkpoint_name=_text_or_none(extras.get("sd_checkpoint_name")))


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) else None


def read_embedding_file(path: Path, disable_safe_unpickle: bool = False) -> object:
    """The raw contents of an embedding file: safetensors through our reader, pickles restricted."""
    if path.suffix.lower() == ".safetensors":
        source = SafetensorsFile(path)
        try:
            return {k: source.read(k) for k in source.keys()}
        finally:
            source.close()
    module = pickle if disable_safe_unpickle else restricted_pickle_module(path)
    return torch.load(path, map_location="cpu", pickle_module=module, weights_only=False)


def load_embedding(path: Path, disable_safe_unpickle: bool = False) -> Embedding:
    """Read one file; a file we cannot use is a ModelLoadError naming it."""
    try:
        data = read_embedding_file(path, disable_safe_unpickle)
        return embedding_from_data(data, path.stem, path)
    except ModelLoadError:
        raise
    except Exception as e:  # a user's file: any failure to read it is reported, never a crash
        raise ModelLoadError(str(path), f"not a textual-inversion embedding ({type(e).__name__}: {e})") from None


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


@contextmanager
def embedding_fixes(token_embedding: torch.nn.Module, fixes: Sequence[Sequence[PromptChunkFix]]):
    """While active, the token-embedding module's output [N, 77, C] carries, in row n, each of `fixes[n]`'s
    vectors at positions offset+1 … (after BOS); a forward hook, removed on exit, so the model is untouched."""

    def hook(_module, _args, output: torch.Tensor) -> torch.Tensor:
        if output.shape[0] != len(fixes):
            raise ValueError(f"token embedding ran on {output.shape[0]} rows, fixes are for {len(fixes)}")
        output = output.clone()  # [N, 77, C]
        for row, row_fixes in enumerate(fixes):
            for offset, embedding in row_fixes:
                vec = embedding.vec.to(device=output.device, dtype=output.dtype)  # [n, C]
                n = min(vec.shape[0], output.shape[1] - offset - 1)
                output[row, offset + 1:offset + 1 + n] = vec[:n]
        return output

    handle = token_embedding.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def token_embedding_of(model) -> torch.nn.Module:
    """The text encoder's token-embedding module (transformers' `get_input_embeddings`)."""
    encoder = getattr(model, "text_encoder", None)
    if encoder is None or not hasattr(encoder, "get_input_embeddings"):
        raise TypeError(f"{type(model).__name__} has no text_encoder with input embeddings for textual inversion")
    return encoder.get_input_embeddings()
