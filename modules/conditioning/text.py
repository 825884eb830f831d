"""Prompt text → CLIP conditioning [1, 77*k, C]: the seam between the prompt language and the text encoder.

A text is parsed for emphasis and BREAK (`modules.prompts.attention`), tokenized run by run and cut into 77-token
chunks (`prompt_tokens.py`, `chunks.py`); each chunk is run through the text encoder, weighted by the emphasis mode
(`emphasis.py`), and the chunks are concatenated along the token axis, as A1111's
`FrozenCLIPEmbedderWithCustomWords.forward` does.

`model` is any object with `text_hidden_states(input_ids, clip_skip) -> Tensor`: input_ids [N, 77] (int64, on the
CPU; the model moves them to its device), clip skip 1 = last layer, N = N-th last layer followed by the final layer
norm; result [N, 77, C].
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import torch

from modules.conditioning.cache import ConditioningCache, ConditioningKey
from modules.conditioning.chunks import DEFAULT_COMMA_BACKTRACK, PromptChunk, chunk_tokens, empty_chunk
from modules.conditioning.embeddings import embedding_fixes, token_embedding_of
from modules.conditioning.emphasis import DEFAULT_EMPHASIS, EmphasisMode, apply_emphasis, get_emphasis
from modules.conditioning.prompt_tokens import prompt_to_chunks, weighted_tokens
from modules.errors import InvalidInput

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

__all__ = [
    "PromptChunk", "TextEncoder", "chunk_tokens", "empty_chunk", "weighted_tokens", "prompt_to_chunks", "encode_chunks",
    "encode_prompts", "encode_empty", "pad_to_same_length",
]


class TextEncoder(Protocol):
    """A CLIP-style text encoder: its tokenizer (the default for prompts) and hidden states of token ids."""

    @property
    def tokenizer(self) -> CLIPTokenizer: ...

    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int) -> torch.Tensor: ...


def _check_clip_skip(clip_skip: int) -> None:
    if not isinstance(clip_skip, int) or clip_skip < 1:
        raise InvalidInput("clip_skip", f"must be a whole number of at least 1, got {clip_skip!r}", "1, 2, 3, …")


def _hidden_states(model: TextEncoder, chunks: Sequence[PromptChunk], clip_skip: int, mode: EmphasisMode):
    """Encode chunks as one batch; returns [len(chunks), 77, C], each chunk weighted on its own."""
    ids = torch.tensor([c.tokens for c in chunks], dtype=torch.long)  # [N, 77]
    if any(c.fixes for c in chunks):  # textual inversion: vectors written into the token embeddings
        with embedding_fixes(token_embedding_of(model), [c.fixes for c in chunks]):
            z = model.text_hidden_states(ids, clip_skip)  # [N, 77, C]
    else:
        z = model.text_hidden_states(ids, clip_skip)  # [N, 77, C]
    if z.ndim != 3 or z.shape[:2] != ids.shape:
        raise ValueError(f"text_hidden_states returned shape {tuple(z.shape)} for input ids {tuple(ids.shape)}")
    multipliers = torch.tensor([c.multipliers for c in chunks], dtype=torch.float32)  # [N, 77]
    return apply_emphasis(z, multipliers, mode)


def encode_chunks(
    model: TextEncoder, chunks: Sequence[PromptChunk], clip_skip: int, emphasis: str = DEFAULT_EMPHASIS
) -> torch.Tensor:
    """The chunks of one prompt → conditioning [1, 77*k, C]."""
    if not chunks:
        raise ValueError("encode_chunks needs at least one chunk (an empty prompt has one)")
    _check_clip_skip(clip_skip)
    z = _hidden_states(model, chunks, clip_skip, get_emphasis(emphasis))  # [k, 77, C]
    return z.reshape(1, -1, z.shape[-1])  # [1, 77*k, C]


def encode_prompts(
    model: TextEncoder,
    texts: Sequence[str],
    clip_skip: int,
    *,
    tokenizer=None,
    emphasis: str = DEFAULT_EMPHASIS,
    comma_backtrack: int = DEFAULT_COMMA_BACKTRACK,
    cache: ConditioningCache | None = None,
    model_hash: str = "",
    embeddings=None,
) -> list[torch.Tensor]:
    """One conditioning [1, 77*k_i, C] per text; uncached texts are encoded together in one batch.

    `tokenizer` defaults to `model.tokenizer`. With a `cache`, `model_hash` must identify the text encoder's
    current weights (include anything patched into them). `embeddings`: an EmbeddingDatabase loaded for this
    model (textual inversion); its `key` joins the cache key.
    """
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    _check_clip_skip(clip_skip)
    mode = get_emphasis(emphasis)
    if cache is not None and not model_hash:
        raise ValueError("encode_prompts with a cache needs the model_hash of the text encoder")
    if embeddings is not None:
        model_hash = f"{model_hash}|ti:{embeddings.key}"
    keys = [ConditioningKey(model_hash, t, clip_skip, mode.name, comma_backtrack) for t in texts]
    results: dict[str, torch.Tensor] = {}
    if cache is not None:
        results = {k.text: hit for k in keys if (hit := cache.get(k)) is not None}
    todo = list(dict.fromkeys(t for t in texts if t not in results))
    if todo:
        per_text = [prompt_to_chunks(tokenizer, t, mode.name, comma_backtrack, embeddings)[0] for t in todo]
        z = _hidden_states(model, [c for chunks in per_text for c in chunks], clip_skip, mode)  # [Σk, 77, C]
        start = 0
        for text, chunks in zip(todo, per_text):
            cond = z[start:start + len(chunks)].reshape(1, -1, z.shape[-1])  # [1, 77*k, C]
            start += len(chunks)
            results[text] = cond
            if cache is not None:
                cache.put(ConditioningKey(model_hash, text, clip_skip, mode.name, comma_backtrack), cond)
    return [results[t] for t in texts]


def encode_empty(model: TextEncoder, clip_skip: int, *, tokenizer=None) -> torch.Tensor:
    """The encoding of the empty chunk [1, 77, C] (A1111's `cond_stage_model_empty_prompt`), used for padding."""
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    return encode_chunks(model, [empty_chunk(tokenizer.bos_token_id, tokenizer.eos_token_id)], clip_skip)


def pad_to_same_length(conds: Sequence[torch.Tensor], empty_chunk: torch.Tensor) -> list[torch.Tensor]:
    """Pad conditionings [B_i, 77*k_i, C] to the longest by appending the empty chunk's encoding [1, 77, C].

    A1111's `pad_cond`: lets cond and uncond of different lengths share one UNet batch.
    """
    if not conds:
        return []
    chunk_len = empty_chunk.shape[1]
    longest = max(c.shape[1] for c in conds)
    padded = []
    for cond in conds:
        missing = longest - cond.shape[1]
        if missing % chunk_len:
            raise ValueError(f"conditioning lengths {cond.shape[1]} and {longest} differ by a partial chunk")
        filler = empty_chunk.to(device=cond.device, dtype=cond.dtype).repeat(cond.shape[0], missing // chunk_len, 1)
        padded.append(torch.cat([cond, filler], dim=1) if missing else cond)  # [B_i, longest, C]
    return padded
