"""Token ids → 77-token chunks (BOS + 75 tokens + EOS), the way A1111 feeds long prompts to CLIP.

CLIP's text encoder sees at most 77 positions, so A1111 (`FrozenCLIPEmbedderWithCustomWords.tokenize_line`) cuts a
prompt into 75-token pieces, wraps each in BOS/EOS, pads it, encodes each piece on its own and concatenates the
results. `BREAK` closes the current piece early; when a piece fills up and a comma was among its last
`comma_backtrack` tokens, the tokens after that comma move on to the next piece so a phrase is not split.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

CHUNK_LENGTH = 75  # prompt tokens per chunk; with BOS and EOS a chunk is CLIP's 77 positions
CLIP_COMMA_ID = 267  # "," in CLIP ViT-L/14's vocabulary
DEFAULT_COMMA_BACKTRACK = 20  # A1111's `comma_padding_backtrack` default


@dataclass
class PromptChunk:
    """One CLIP input: `tokens` and `multipliers` both of length 77 (BOS, 75 tokens or padding, EOS)."""

    tokens: list[int] = field(default_factory=list)
    multipliers: list[float] = field(default_factory=list)


def empty_chunk(bos: int, eos: int) -> PromptChunk:
    """The chunk of an empty prompt: BOS then EOS everywhere (A1111 pads and cond/uncond-aligns with it).

    >>> c = empty_chunk(49406, 49407); (c.tokens[:3], len(c.tokens), set(c.multipliers))
    ([49406, 49407, 49407], 77, {1.0})
    """
    return PromptChunk([bos] + [eos] * (CHUNK_LENGTH + 1), [1.0] * (CHUNK_LENGTH + 2))


def _wrap(tokens: list[int], weights: list[float], bos: int, eos: int, pad: int) -> PromptChunk:
    """Pad a piece of ≤75 tokens to 75 and add BOS/EOS (multiplier 1.0 outside the prompt's own tokens)."""
    fill = CHUNK_LENGTH - len(tokens)
    return PromptChunk(
        [bos] + tokens + [pad] * fill + [eos],
        [1.0] + weights + [1.0] * fill + [1.0],
    )


def chunk_tokens(
    ids: Sequence[int],
    weights: Sequence[float],
    bos: int,
    eos: int,
    pad: int,
    *,
    breaks: Sequence[int] = (),
    comma_id: int | None = CLIP_COMMA_ID,
    comma_backtrack: int = DEFAULT_COMMA_BACKTRACK,
) -> list[PromptChunk]:
    """Split `ids` (weights alike) into 77-token chunks; an empty prompt still gives one chunk.

    `breaks` are positions in `ids` before which a `BREAK` stands (repeat a position for several; `len(ids)` for a
    trailing one). `comma_backtrack=0` or `comma_id=None` turns the comma rule off.

    >>> [c.tokens[:4] for c in chunk_tokens([1, 2, 3], [1.0, 1.1, 1.0], 8, 9, 9, breaks=[1])]
    [[8, 1, 9, 9], [8, 2, 3, 9]]
    >>> len(chunk_tokens([], [], 8, 9, 9))
    1
    """
    return chunk_tokens_counted(
        ids, weights, bos, eos, pad, breaks=breaks, comma_id=comma_id, comma_backtrack=comma_backtrack
    )[0]


def chunk_tokens_counted(
    ids: Sequence[int],
    weights: Sequence[float],
    bos: int,
    eos: int,
    pad: int,
    *,
    breaks: Sequence[int] = (),
    comma_id: int | None = CLIP_COMMA_ID,
    comma_backtrack: int = DEFAULT_COMMA_BACKTRACK,
) -> tuple[list[PromptChunk], int]:
    """`chunk_tokens` plus A1111's token count: 75 for every chunk but the last, plus the last one's tokens."""
    if len(ids) != len(weights):
        raise ValueError(f"{len(ids)} token ids but {len(weights)} weights")
    break_count = Counter(breaks)
    chunks: list[PromptChunk] = []
    tokens: list[int] = []
    mults: list[float] = []
    last_comma = -1
    count = 0

    def close(is_last: bool = False) -> None:
        nonlocal tokens, mults, last_comma, count
        count += len(tokens) if is_last else CHUNK_LENGTH
        chunks.append(_wrap(tokens, mults, bos, eos, pad))
        tokens, mults, last_comma = [], [], -1

    for position in range(len(ids) + 1):
        for _ in range(break_count.get(position, 0)):
            close()
        if position == len(ids):
            break
        token, weight = ids[position], float(weights[position])
        if comma_id is not None and token == comma_id:
            last_comma = len(tokens)
        elif (comma_backtrack > 0 and len(tokens) == CHUNK_LENGTH and last_comma != -1
              and len(tokens) - last_comma <= comma_backtrack):
            moved_tokens, moved_mults = tokens[last_comma + 1:], mults[last_comma + 1:]
            tokens, mults = tokens[:last_comma + 1], mults[:last_comma + 1]
            close()
            tokens, mults = moved_tokens, moved_mults
        if len(tokens) == CHUNK_LENGTH:
            close()
        tokens.append(token)
        mults.append(weight)
    if tokens or not chunks:
        close(is_last=True)
    return chunks, count
