"""Prompt text → weighted tokens → 77-token chunks, the half of `text` that needs no model (and no torch).

Split from `text` (which runs the chunks through the text encoder) so that the prompt boxes' token counters, built
with the page, do not import torch (docs/architecture.md §4).
"""
from __future__ import annotations

from modules.conditioning.chunks import CLIP_COMMA_ID, DEFAULT_COMMA_BACKTRACK, PromptChunk, chunk_tokens_counted
from modules.conditioning.emphasis import DEFAULT_EMPHASIS, get_emphasis
from modules.conditioning.tokenizer import tokenize_many
from modules.prompts.attention import BREAK_MARK, parse_prompt_attention


def weighted_tokens(tokenizer, text: str, emphasis: str = DEFAULT_EMPHASIS) -> tuple[list[int], list[float], list[int]]:
    """A prompt's token ids, their weights and the BREAK positions, as `emphasis` parses it.

    Each `[text, weight]` run of `parse_prompt_attention` is tokenized on its own, as A1111 does, so a bracket
    always ends a word. The "None" mode keeps brackets, weights and BREAK as plain text.
    """
    return _weighted_tokens(tokenizer, text, emphasis, None)[:3]


def _weighted_tokens(tokenizer, text: str, emphasis: str, embeddings) -> tuple[list, list, list, dict]:
    """`weighted_tokens` plus textual inversion: with an EmbeddingDatabase, names inside each run become
    placeholder positions; the 4th value maps their start to (vectors, embedding)."""
    mode = get_emphasis(emphasis)
    parsed: list[list] = parse_prompt_attention(text) if mode.parse_attention else [[text, 1.0]]  # [text, weight] runs
    pieces = [(t, w) for t, w in parsed if [t, w] != BREAK_MARK]
    tokenized = iter(tokenize_many(tokenizer, [t for t, _ in pieces]))
    ids: list[int] = []
    weights: list[float] = []
    breaks: list[int] = []
    spans: dict = {}
    for run in parsed:
        if run == BREAK_MARK:
            breaks.append(len(ids))
            continue
        tokens = next(tokenized)
        if embeddings is not None:
            tokens, run_spans = embeddings.replace_names(tokens)
            spans.update({len(ids) + start: span for start, span in run_spans.items()})
        ids += tokens
        weights += [float(run[1])] * len(tokens)
    return ids, weights, breaks, spans


def prompt_to_chunks(
    tokenizer, text: str, emphasis: str = DEFAULT_EMPHASIS, comma_backtrack: int = DEFAULT_COMMA_BACKTRACK,
    embeddings=None,
) -> tuple[list[PromptChunk], int]:
    """One prompt's chunks (emphasis, BREAK, comma backtrack applied) and A1111's token count for it.

    `embeddings` (an EmbeddingDatabase loaded for this tokenizer) turns embedding names into chunk fixes.

    >>> from modules.conditioning.tokenizer import load_clip_tokenizer
    >>> from modules.paths import INSTALL_DIR
    >>> tok = load_clip_tokenizer(INSTALL_DIR / "configs")
    >>> chunks, count = prompt_to_chunks(tok, "a (cat:1.5) BREAK [dog]")
    >>> count, len(chunks), chunks[0].tokens[:4], chunks[0].multipliers[:4]
    (76, 2, [49406, 320, 2368, 49407], [1.0, 1.0, 1.5, 1.0])
    >>> chunks[1].tokens[:3], round(chunks[1].multipliers[1], 4)
    ([49406, 1929, 49407], 0.9091)
    >>> prompt_to_chunks(tok, "a (cat:1.5)", emphasis="None")[0][0].multipliers[:3]
    [1.0, 1.0, 1.0]
    """
    ids, weights, breaks, spans = _weighted_tokens(tokenizer, text, emphasis, embeddings)
    return chunk_tokens_counted(
        ids, weights, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id,
        breaks=breaks, comma_id=CLIP_COMMA_ID, comma_backtrack=comma_backtrack, embeddings=spans,
    )
