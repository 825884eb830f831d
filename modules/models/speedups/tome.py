"""Token merging for Stable Diffusion (Bolya & Hoffman 2023, "Token Merging for Fast Stable Diffusion").

Before a self-attention, the tokens of the image grid are split into destinations (one per sy × sx cell, the
cell's top-left token, as A1111 runs it: no random choice) and sources (the rest). Each source is paired with its
most similar destination (cosine similarity of a metric, the block's input); the `r` best-paired sources are
averaged into their destinations, so attention sees N − r tokens. After attention, every merged source gets its
destination's output back (unmerge), and the block goes on at full length.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def cell_split(h: int, w: int, sy: int = 2, sx: int = 2) -> tuple[list[int], list[int]]:
    """(destination, source) token indices of an h × w grid in row-major order: one destination per full cell.

    >>> cell_split(2, 4)
    ([0, 2], [1, 3, 4, 5, 6, 7])
    >>> cell_split(3, 2)[0]
    [0]
    """
    dst = [(y * sy) * w + x * sx for y in range(h // sy) for x in range(w // sx)]
    taken = set(dst)
    return dst, [i for i in range(h * w) if i not in taken]


@dataclass(frozen=True)
class MergePlan:
    """Which tokens merge into which, for a batch: indices into the source and destination sets."""

    dst_idx: torch.Tensor  # [Nd] token positions of the destinations
    src_idx: torch.Tensor  # [Ns] token positions of the sources
    kept: torch.Tensor  # [B, Ns - r] source slots that stay tokens of their own
    moved: torch.Tensor  # [B, r] source slots merged away
    target: torch.Tensor  # [B, r] destination slot each moved source joins

    @property
    def r(self) -> int:
        return self.moved.shape[1]


def plan_merge(metric: torch.Tensor, h: int, w: int, ratio: float, sy: int = 2, sx: int = 2) -> MergePlan | None:
    """The bipartite soft matching of `metric` [B, h*w, C]: merge int(h*w*ratio) tokens (at most every source).

    None when nothing would merge (ratio 0, or a grid too small for one cell).
    """
    n = metric.shape[1]
    dst, src = cell_split(h, w, sy, sx)
    r = min(int(n * ratio), len(src))
    if r <= 0 or not dst:
        return None
    device = metric.device
    dst_idx, src_idx = torch.tensor(dst, device=device), torch.tensor(src, device=device)
    unit = metric.float()
    unit = unit / unit.norm(dim=-1, keepdim=True)  # [B, N, C]
    scores = unit[:, src_idx] @ unit[:, dst_idx].transpose(1, 2)  # [B, Ns, Nd]
    best, best_dst = scores.max(dim=-1)  # [B, Ns]
    order = best.argsort(dim=-1, descending=True)  # [B, Ns]: most similar sources first
    moved, kept = order[:, :r], order[:, r:]
    return MergePlan(dst_idx, src_idx, kept, moved, best_dst.gather(1, moved))


def _rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [B, M, C] gathered along tokens by index [B, K] → [B, K, C]."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def merge(plan: MergePlan, x: torch.Tensor) -> torch.Tensor:
    """x [B, N, C] → [B, N - r, C]: kept sources, then destinations averaged with the sources merged into them."""
    src, dst = x[:, plan.src_idx], x[:, plan.dst_idx]  # [B, Ns, C], [B, Nd, C]
    moving = _rows(src, plan.moved)  # [B, r, C]
    index = plan.target.unsqueeze(-1).expand(-1, -1, x.shape[-1])  # [B, r, C]
    dst = dst.scatter_reduce(1, index, moving, reduce="mean", include_self=True)  # [B, Nd, C]
    return torch.cat([_rows(src, plan.kept), dst], dim=1)


def unmerge(plan: MergePlan, y: torch.Tensor) -> torch.Tensor:
    """y [B, N - r, C] (an output of the merged tokens) → [B, N, C]: each merged source takes its destination's."""
    n_kept = plan.kept.shape[1]
    kept, dst = y[:, :n_kept], y[:, n_kept:]  # [B, Ns - r, C], [B, Nd, C]
    batch, channels = y.shape[0], y.shape[-1]
    out = y.new_empty(batch, plan.src_idx.numel() + plan.dst_idx.numel(), channels)  # [B, N, C]
    out[:, plan.dst_idx] = dst
    src = y.new_empty(batch, plan.src_idx.numel(), channels)  # [B, Ns, C]
    src.scatter_(1, plan.kept.unsqueeze(-1).expand(-1, -1, channels), kept)
    src.scatter_(1, plan.moved.unsqueeze(-1).expand(-1, -1, channels), _rows(dst, plan.target))
    out[:, plan.src_idx] = src
    return out
