"""Textual inversion (Gal et al. 2022, "An Image is Worth One Word"): learned vectors named by a file's stem.

Files are `embeddings/**/*.{pt,bin,safetensors}` in the four layouts A1111 reads: A1111's own
`{'string_to_param': {'*': T}}`, SDXL's `{'clip_l': T_l, 'clip_g': T_g}` (one vector set per text encoder),
`{'emb_params': T}` (safetensors) and a dict of one tensor (diffusers' concept files). Pickles go through the
restricted unpickler, never a plain `torch.load`. An embedding made for other text encoders than the loaded model's
(an SD 1.x file on SDXL, an SDXL file on SD 1.x) is kept aside as *skipped* (the `/sdapi/v1/embeddings` answer).

In a prompt, the tokens of an embedding's name are replaced by as many placeholder positions as it has vectors
(longest name first, A1111's `find_embedding_at_position`); at encoding time a forward hook on the text encoder's
token embedding writes the vectors into those positions, for that call only, so the model is never changed.
This module reads the files and hooks the encoder (torch); the folder's database, `EmbeddingDatabase`, lives in
`embedding_db` (no torch: the App holds one from start-up).
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from modules.conditioning.chunks import PromptChunkFix
from modules.conditioning.embedding_db import PLACEHOLDER_TOKEN, EmbeddingDatabase  # noqa: F401 - their old home
from modules.errors import ModelLoadError
from modules.models.restricted_unpickle import restricted_pickle_module
from modules.models.safetensors_io import SafetensorsFile

SDXL_SLOTS = ("clip_l", "clip_g")  # the keys of A1111's SDXL embedding files, in the engine's order


@dataclass(eq=False)
class Embedding:
    """One textual-inversion embedding: `vec` [n, C] float32, named after its file.

    An SDXL file holds a vector set per text encoder (`per_slot`, by `TextSlot` name: clip_l [n, 768], clip_g
    [n, 1280]); its `vec` is the sets side by side [n, 2048], so `shape` is A1111's (the widths summed).
    """

    name: str
    vec: torch.Tensor  # [n, C]
    path: Path | None = None
    step: int | None = None
    sd_checkpoint: str | None = None
    sd_checkpoint_name: str | None = None
    per_slot: Mapping[str, torch.Tensor] | None = None  # {slot: [n, C_slot]} for files made for several encoders

    @property
    def shape(self) -> int:
        """The vector width C (768 for SD1's CLIP ViT-L/14; 768 + 1280 for an SDXL file)."""
        return int(self.vec.shape[-1])

    @property
    def vectors(self) -> int:
        return int(self.vec.shape[0])

    def vectors_for(self, slot: str) -> torch.Tensor:
        """The vectors [n, C_slot] this embedding gives the text encoder `slot` (a one-set file: its only set)."""
        if self.per_slot is None:
            return self.vec
        if slot not in self.per_slot:
            raise KeyError(f"embedding {self.name} has no vectors for the {slot} text encoder "
                           f"(it has {self.describe()})")
        return self.per_slot[slot]

    def fits(self, widths: Mapping[str, int]) -> bool:
        """Whether a model whose text encoders are `widths` ({slot: width}) can use this embedding (A1111: the
        widths summed must match; here also the encoders, so a set never lands in an encoder it was not made for).

        >>> sdxl = {"clip_l": 768, "clip_g": 1280}
        >>> one = Embedding("a", torch.zeros(2, 768))
        >>> one.fits({"clip_l": 768}), one.fits(sdxl)
        (True, False)
        >>> both = embedding_from_data({"clip_l": torch.zeros(2, 768), "clip_g": torch.zeros(2, 1280)}, "b")
        >>> both.fits(sdxl), both.fits({"clip_l": 768}), both.fits({"clip_g": 1280})
        (True, False, False)
        """
        if self.per_slot is None:
            return len(widths) == 1 and self.shape == next(iter(widths.values()))
        return {k: int(v.shape[-1]) for k, v in self.per_slot.items()} == dict(widths)

    def describe(self) -> str:
        """What the vectors were made for, for messages: "768 wide" or "clip_l 768 + clip_g 1280"."""
        if self.per_slot is None:
            return f"{self.shape} wide"
        return " + ".join(f"{k} {int(v.shape[-1])}" for k, v in self.per_slot.items())

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
    """An Embedding from a loaded file's contents, in any of the four layouts (A1111's
    `create_embedding_from_data`); anything else is a ValueError saying what was found.

    >>> embedding_from_data({"string_to_param": {"*": torch.ones(2, 4)}, "step": 5}, "a").vectors
    2
    >>> embedding_from_data({"emb_params": torch.ones(3, 4)}, "b").shape
    4
    >>> embedding_from_data({"<cat-toy>": torch.ones(4)}, "c").vec.shape
    torch.Size([1, 4])
    >>> xl = embedding_from_data({"clip_l": torch.ones(2, 3), "clip_g": torch.ones(2, 5)}, "e")
    >>> xl.vectors, xl.shape, xl.vectors_for("clip_g").shape
    (2, 8, torch.Size([2, 5]))
    >>> embedding_from_data({"x": 1}, "d")
    Traceback (most recent call last):
    ValueError: neither a textual-inversion embedding nor a diffusers concept (keys: x)
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"holds a {type(data).__name__}, not a dict of tensors")
    extras = {}
    if "string_to_param" not in data and all(isinstance(data.get(k), torch.Tensor) for k in SDXL_SLOTS):
        return _per_slot_embedding(data, name, path)
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
    vec = _vector_set(vec)  # [n, C]
    step = extras.get("step")
    return Embedding(name, vec, path, step=step if isinstance(step, int) else None,
                     sd_checkpoint=_text_or_none(extras.get("sd_checkpoint")),
                     sd_checkpoint_name=_text_or_none(extras.get("sd_checkpoint_name")))


def _vector_set(tensor: torch.Tensor, what: str = "vectors") -> torch.Tensor:
    """A file's tensor as float32 vectors [n, C] on the CPU (one vector [C] becomes [1, C])."""
    vec = tensor.detach().to(device="cpu", dtype=torch.float32)
    if vec.ndim == 1:
        vec = vec.unsqueeze(0)  # [C] -> [1, C]
    if vec.ndim != 2 or vec.shape[0] < 1:
        raise ValueError(f"{what} of shape {tuple(vec.shape)}; expected [vectors, width]")
    return vec


def _per_slot_embedding(data: Mapping, name: str, path: Path | None) -> Embedding:
    """An SDXL file: a vector set per text encoder (A1111 names them clip_l and clip_g), each [n, C_slot]."""
    sets = {slot: _vector_set(data[slot], f"{slot} vectors") for slot in SDXL_SLOTS}
    counts = {slot: int(v.shape[0]) for slot, v in sets.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"its encoders' vector counts differ ({counts}); each token needs one vector per encoder")
    vec = torch.cat(list(sets.values()), dim=-1)  # [n, ΣC], the sets side by side
    return Embedding(name, vec, path, per_slot=sets)


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) else None


def read_embedding_file(path: Path, disable_safe_unpickle: bool = False) -> object:
    """The raw contents of an embedding file: safetensors through our reader, pickles restricted."""
    if path.suffix.lower() == ".safetensors":
        source = SafetensorsFile(path)
        try:
            names = source.keys()  # a list of tensor names: SafetensorsFile is not a mapping
            return {k: source.read(k) for k in names}
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


@contextmanager
def embedding_fixes(token_embedding: torch.nn.Module, fixes: Sequence[Sequence[PromptChunkFix]],
                    slot: str = "clip_l"):
    """While active, the token-embedding module's output [N, 77, C] carries, in row n, each of `fixes[n]`'s
    vectors for the text encoder `slot` at positions offset+1 … (after BOS); a forward hook, removed on exit, so
    the model is untouched."""

    def hook(_module, _args, output: torch.Tensor) -> torch.Tensor:
        if output.shape[0] != len(fixes):
            raise ValueError(f"token embedding ran on {output.shape[0]} rows, fixes are for {len(fixes)}")
        output = output.clone()  # [N, 77, C]
        for row, row_fixes in enumerate(fixes):
            for offset, embedding in row_fixes:
                vec = embedding.vectors_for(slot).to(device=output.device, dtype=output.dtype)  # [n, C]
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
