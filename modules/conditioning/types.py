"""`Conditioning`: what a model family's text encoders hand the UNet for a batch of rows, as one typed value.

SD 1.x fills only `cross_attn`; SDXL adds a pooled text embedding and its size/crop time ids (`added`). Rows of
different token lengths can share one value: `lengths` says how many tokens of each row are real. The padding
past a row's length is never shown to the UNet (`select` cuts it off), which is how A1111 with
`pad_cond_uncond` off runs a prompt and a negative prompt of different lengths through separate UNet calls.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import torch


class UNetExtras(TypedDict, total=False):
    """What the UNet takes besides cross-attention, as keyword arguments of `LoadedModel.unet_forward`."""

    pooled: torch.Tensor  # [N, D]
    added: dict[str, torch.Tensor]  # each [N, ...]


@dataclass(frozen=True, eq=False)
class Conditioning:
    """N rows of text conditioning.

    >>> c = Conditioning.cat([Conditioning(torch.ones(2, 154, 8)), Conditioning(torch.ones(1, 77, 8))])
    >>> len(c), c.cross_attn.shape, c.token_lengths
    (3, torch.Size([3, 154, 8]), (154, 154, 77))
    >>> c.select([2], 77).cross_attn.shape
    torch.Size([1, 77, 8])
    """

    cross_attn: torch.Tensor  # [N, T, C]
    lengths: tuple[int, ...] | None = None  # real tokens per row; None: all T of every row
    pooled: torch.Tensor | None = None  # [N, D] (SDXL: CLIP-G's pooled output)
    added: Mapping[str, torch.Tensor] = field(default_factory=dict)  # each [N, ...] (SDXL: {"time_ids": [N, 6]})

    def __post_init__(self):
        if self.cross_attn.ndim != 3:
            raise ValueError(f"cross_attn must be [N, T, C], got shape {tuple(self.cross_attn.shape)}")
        if self.lengths is not None:
            n, t = self.cross_attn.shape[:2]
            if len(self.lengths) != n or not all(0 < k <= t for k in self.lengths):
                raise ValueError(f"lengths {self.lengths} do not fit cross_attn of {n} rows × {t} tokens")

    def __len__(self) -> int:
        return self.cross_attn.shape[0]

    @property
    def token_lengths(self) -> tuple[int, ...]:
        """Real tokens of each row (all T where `lengths` is None)."""
        return self.lengths if self.lengths is not None else (self.cross_attn.shape[1],) * len(self)

    @property
    def extras(self) -> UNetExtras:
        """What the UNet takes besides cross-attention, as keyword arguments: empty for SD 1.x."""
        extra = UNetExtras()
        if self.pooled is not None:
            extra["pooled"] = self.pooled
        if self.added:
            extra["added"] = dict(self.added)
        return extra

    def select(self, rows: Sequence[int] | None, tokens: int) -> Conditioning:
        """Rows `rows` (None: all) cut to their first `tokens` tokens, for one UNet call; the rows must all have at
        least that many real tokens."""
        if rows is None:
            return Conditioning(self.cross_attn[:, :tokens], None, self.pooled, self.added)  # [N, tokens, C]
        index = torch.tensor(list(rows))
        return Conditioning(self.cross_attn[index, :tokens], None,  # [k, tokens, C]
                            None if self.pooled is None else self.pooled[index],
                            {k: v[index] for k, v in self.added.items()})

    @staticmethod
    def cat(parts: Sequence[Conditioning]) -> Conditioning:
        """Rows of all parts in order. Shorter parts are zero-padded to the longest; their lengths keep saying
        which tokens are real, so the padding never reaches the UNet."""
        if len(parts) == 1:
            return parts[0]
        longest = max(p.cross_attn.shape[1] for p in parts)
        tensors = [_zero_pad(p.cross_attn, longest) for p in parts]  # [N_i, longest, C] each
        lengths = tuple(k for p in parts for k in p.token_lengths)
        uniform = all(k == longest for k in lengths)
        first = parts[0]
        return Conditioning(
            torch.cat(tensors), None if uniform else lengths,  # [ΣN, longest, C]
            None if first.pooled is None else torch.cat(_pooled_rows(parts)),  # [ΣN, D]
            {k: torch.cat([p.added[k] for p in parts]) for k in first.added},
        )

    @staticmethod
    def stack(rows: Sequence[Conditioning]) -> Conditioning:
        """One-row conditionings [1, T_i, C] → [N, max T, C], each row filled up by repeating its last token
        vector (A1111's `stack_conds`: the UNet sees those repeats, so every row counts as full length)."""
        longest = max(r.cross_attn.shape[1] for r in rows)
        tensors = [r.cross_attn[0] for r in rows]  # [T_i, C] each
        padded = [torch.cat([c, c[-1:].repeat(longest - c.shape[0], 1)]) if c.shape[0] < longest else c
                  for c in tensors]
        first = rows[0]
        return Conditioning(
            torch.stack(padded),  # [N, longest, C]
            None, None if first.pooled is None else torch.cat(_pooled_rows(rows)),  # [N, D]
            {k: torch.cat([r.added[k] for r in rows]) for k in first.added},
        )


def _pooled_rows(parts: Sequence[Conditioning]) -> list[torch.Tensor]:
    """The pooled embeddings [N_i, D] of parts that all have one; a mix with and without cannot be joined."""
    pooled = [p.pooled for p in parts if p.pooled is not None]
    if len(pooled) != len(parts):
        raise ValueError(f"{len(parts) - len(pooled)} of {len(parts)} conditionings have no pooled embedding "
                         "while the first has one; they cannot be joined into one batch")
    return pooled


def _zero_pad(x: torch.Tensor, tokens: int) -> torch.Tensor:
    """[N, T, C] → [N, tokens, C] with zero rows appended (never shown to the UNet, see `Conditioning.cat`)."""
    missing = tokens - x.shape[1]
    if not missing:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], missing, x.shape[2])], dim=1)  # [N, tokens, C]


def as_conditioning(value) -> Conditioning:
    """A Conditioning as it is; a bare cross-attention tensor [N, T, C] wrapped (hooks and tests may hand one)."""
    return value if isinstance(value, Conditioning) else Conditioning(value)
