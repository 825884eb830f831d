"""A compact token table for training: only the CLIP tokens the world's captions use, plus one "unknown" row.

Training a 49408-row embedding spends most optimizer time on rows no caption touches. The text encoder trains
with this small table; `expand_embedding` writes the full CLIP-sized table for export, every token outside the
world sharing the learned "unknown" row — so a prompt outside the world reads as unknown words, not noise.
"""
from __future__ import annotations

import random

import torch

from modules.conditioning.tokenizer import tokenize_many
from modules.training.scenes import (FULL_TEMPLATES, NO_POSITION_TEMPLATES, PARTIAL_TEMPLATES, POSITION_WORDS,
                                     SIZE_WORDS)
from modules.training.world import COLOURS, SHAPES

CLIP_VOCAB = 49408
CHUNK = 77
UNKNOWN = 0  # compact id of every token outside the world
EXTRA_WORDS = ("a", "an", "the", "shape", "picture", "of", "on", "at", "in", "background", ",")


def world_words() -> list[str]:
    """Every word a caption can contain (template words, colours, shapes, sizes, positions)."""
    words = set(EXTRA_WORDS) | set(COLOURS) | set(SHAPES)
    for phrases in (*POSITION_WORDS.values(), *SIZE_WORDS.values()):
        for p in phrases:
            words.update(p.split())
    for t in (*FULL_TEMPLATES, *NO_POSITION_TEMPLATES, *PARTIAL_TEMPLATES):
        for w in t.replace(",", " , ").split():
            if not w.startswith("{"):
                words.add(w)
    return sorted(w for w in words if w)


class CompactVocab:
    """full CLIP id → compact id (a lookup tensor), built from the tokenizer and the world's words."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
        ids = sorted({i for ws in tokenize_many(tokenizer, world_words()) for i in ws} | {bos, eos})
        self.full_ids = torch.tensor(ids, dtype=torch.long)  # [V-1] compact row k+1 ↔ full id ids[k]
        self.lookup = torch.full((CLIP_VOCAB,), UNKNOWN, dtype=torch.long)
        self.lookup[self.full_ids] = torch.arange(1, len(ids) + 1)
        self.bos, self.eos = bos, eos

    @property
    def size(self) -> int:
        return len(self.full_ids) + 1

    def full_chunks(self, captions: list[str]) -> torch.Tensor:
        """CLIP ids [B, 77] laid out as the pipeline's chunker does for a prompt of ≤75 tokens (BOS, tokens, EOS…)."""
        rows = []
        for ids in tokenize_many(self.tokenizer, captions):
            ids = ids[:CHUNK - 2]
            rows.append([self.bos] + ids + [self.eos] * (CHUNK - 1 - len(ids)))
        return torch.tensor(rows, dtype=torch.long)

    def compact(self, full: torch.Tensor) -> torch.Tensor:
        return self.lookup[full]

    def with_unknown_words(self, full: torch.Tensor, rng: random.Random, p: float = 0.1) -> torch.Tensor:
        """Insert one out-of-world token into some captions (teaches the model to read past unknown words)."""
        out = full.clone()
        for row in out:
            length = int((row != self.eos).sum())  # BOS + tokens
            if rng.random() < p and length < CHUNK - 1:
                at = rng.randint(1, length)
                row[at + 1:] = row[at:-1].clone()
                row[at] = rng.choice(UNKNOWN_SAMPLES)
        return out

    def expand_embedding(self, compact_weight: torch.Tensor) -> torch.Tensor:
        """[V_compact, C] → the full CLIP table [49408, C]."""
        return compact_weight[self.lookup]  # [49408, C]


# A few CLIP ids that are not world words ("photo", "cat", "dog", "house", "tree", "car"); any will do.
UNKNOWN_SAMPLES = (1125, 2368, 1929, 1212, 2677, 1615)
