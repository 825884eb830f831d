"""Token ids → 77-token chunks (BOS + 75 tokens + EOS), the way A1111 feeds long prompts to CLIP.

CLIP's text encoder sees at most 77 positions, so A1111 (`FrozenCLIPEmbedderWithCustomWords.tokenize_line`) cuts a
prompt into 75-token pieces, wraps each in BOS/EOS, pads it, encodes each piece on its own and concatenates the
results. `BREAK` closes the current piece early; when a piece fills up and a comma was among its last
`comma_backtrack` tokens, the tokens after that comma move on to the next piece so a phrase is not split.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # embeddings.py imports this module
    from modules.conditioning.embeddings import Embedding

CHUNK_LENGTH = 75  # prompt tokens per chunk; with BOS and EOS a chunk is CLIP's 77 positions
CLIP_COMMA_ID = 267  # "," in CLIP ViT-L/14's vocabulary
DEFAULT_COMMA_BACKTRACK = 20  # A1111's `comma_padding_backtrack` default


class PromptChunkFix(NamedTuple):
    """A textual-inversion embedding placed at `offset` among a chunk's 75 prompt tokens (A1111's name; the
    vectors land at positions offset+1 … of the 77, after BOS)."""

    offset: int
    embedding: Embedding  # .vec [n, C]


@dataclass
class PromptChunk:
    """One CLIP input: `tokens` and `multipliers` both of length 77 (BOS, 75 tokens or padding, EOS).

    `fixes` are the embeddings whose vectors replace placeholder tokens of this chunk at encoding time.
    """

    tokens: list[int] = field(default_factory=list)
    multipliers: list[float] = field(default_factory=list)
    fixes: list[PromptChunkFix] = field(default_factory=list)


def empty_chunk(bos: int, eos: int) -> PromptChunk:
    """The chunk of an empty prompt: BOS then EOS everywhere (A1111 pads and cond/uncond-aligns with it).

    >>> c = empty_chunk(49406, 49407); (c.tokens[:3], len(c.tokens), set(c.multipliers))
    ([49406, 49407, 49407], 77, {1.0})
    """
    return PromptChunk([bos] + [eos] * (CHUNK_LENGTH + 1), [1.0] * (CHUNK_LENGTH + 2))


def _wrap(tokens: list[int], weights: list[float], bos: int, eos: int, pad: int,
          fixes: Sequence[PromptChunkFix] = ()) -> PromptChunk:
    """Pad a piece of ≤75 tokens to 75 and add BOS/EOS (multiplier 1.0 outside the prompt's own tokens)."""
    fill = CHUNK_LENGTH - len(tokens)
    return PromptChunk(
        [bos] + tokens + [pad] * fill + [eos],
        [1.0] + weights + [1.0] * fill + [1.0],
        list(fixes),
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
    embeddings: Mapping[int, tuple[int, Embedding]] | None = None,
) -> tuple[list[PromptChunk], int]:
    """`chunk_tokens` plus A1111's token count: 75 for every chunk but the last, plus the last one's tokens.

    `embeddings` maps a position in `ids` to (n, embedding): the n placeholder tokens from there on stand for the
    embedding's n vectors; they stay together in one chunk (a chunk closes early when they do not fit), and the
    chunk records a `PromptChunkFix` for them (A1111's `tokenize_line`).

    >>> chunks, count = chunk_tokens_counted([5] * 74 + [0, 0], [1.0] * 76, 8, 9, 9, embeddings={74: (2, "e")})
    >>> count, chunks[0].tokens[74:], chunks[1].tokens[:4], chunks[1].fixes
    (77, [5, 9, 9], [8, 0, 0, 9], [PromptChunkFix(offset=0, embedding='e')])
    """
    if len(ids) != len(weights):
        raise ValueError(f"{len(ids)} token ids but {len(weights)} weights")
    break_count = Counter(breaks)
    embeddings = embeddings or {}
    chunks: list[PromptChunk] = []
    tokens: list[int] = []
    mults: list[float] = []
    fixes: list[PromptChunkFix] = []
    last_comma = -1
    count = 0

    def close(is_last: bool = False) -> None:
        nonlocal tokens, mults, fixes, last_comma, count
        count += len(tokens) if is_last else CHUNK_LENGTH
        chunks.append(_wrap(tokens, mults, bos, eos, pad, fixes))
        tokens, mults, fixes, last_comma = [], [], [], -1

    position = 0
    while position <= len(ids):
        for _ in range(break_count.get(position, 0)):
            close()
        if position == len(ids):
            break
        token, weight = ids[position], float(weights[position])
        if comma_id is not None and token == comma_id:
            last_comma = len(tokens)
        elif (comma_backtrack > 0 and len(tokens) == CHUNK_LENGTH and last_comma != -1
              and len(tokens) - last_comma <= comma_backtrack):
            cut = last_comma + 1
            moved = (tokens[cut:], mults[cut:], [PromptChunkFix(f.offset - cut, f.embedding) for f in fixes
                                                 if f.offset >= cut])
            tokens, mults, fixes = tokens[:cut], mults[:cut], [f for f in fixes if f.offset < cut]
            close()
            tokens, mults, fixes = moved
        if len(tokens) == CHUNK_LENGTH:
            close()
        span, embedding = embeddings.get(position, (1, None))
        if embedding is not None:
            if len(tokens) + span > CHUNK_LENGTH:
                close()
            fixes.append(PromptChunkFix(len(tokens), embedding))
        tokens += list(ids[position:position + span])
        mults += [weight] * span
        position += span
    if tokens or not chunks:
        close(is_last=True)
    return chunks, count
