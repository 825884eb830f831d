"""Exact attention computed one block of queries at a time, for bf16 self-attention over many tokens on the CPU.

softmax(q·kᵀ·scale)·v is computed for `query_block(keys)` queries at once: their score rows ([block, keys], about
1 MiB in bf16) are made by one matrix product, normalised by torch's softmax while they are still in the core's
cache, and multiplied by the values as vᵀ·pᵀ, which oneDNN runs faster than p·v when the head size (40 in SD 1.5's
first level) is the narrow side. Every query sees every key, so nothing is approximated: the result is standard
attention with its probabilities rounded to bf16, as oneDNN's fused kernel rounds them.

Measured against oneDNN's fused kernel (modules/models/onednn_attention.py) on one Zen 4 thread (AVX512-BF16),
batch 2 × 8 heads: 4,096 tokens, head size 40 (SD 1.5 at 512²) 546 → 420 ms; 9,216 tokens (768²) 3.41 → 2.34 s;
2,048 tokens 120 → 110 ms. Fewer keys per unit of head size lose (1,024 tokens: 22 → 29 ms at head size 40, 36 →
42 ms at 80; cross-attention over 77 keys: 3×), hence `pays`. In float32 torch's flash kernel is faster at every
size measured, so this is for bf16 only (docs/performance.md).
"""
from __future__ import annotations

import torch

MIN_KEYS = 2048  # below: oneDNN's fused kernel is faster
MIN_KEYS_PER_HEAD_DIM = 50  # head size 80 needs 4,096 keys to gain (2,304: 198 ms fused against 203 blocked)
BLOCK_SCORES = 2 ** 19  # scores of one query block per row: 1 MiB in bf16


def pays(keys: int, head_size: int, dtype: torch.dtype) -> bool:
    """Whether blocked attention beats oneDNN's fused kernel for this shape (measured; module docstring).

    >>> [pays(n, 40, torch.bfloat16) for n in (1024, 2048, 4096)], pays(2304, 80, torch.bfloat16)
    ([False, True, True], False)
    >>> pays(4096, 40, torch.float32)
    False
    """
    return dtype == torch.bfloat16 and keys >= MIN_KEYS and keys >= MIN_KEYS_PER_HEAD_DIM * head_size


def beats_torch(keys: int, dtype: torch.dtype) -> bool:
    """Whether blocked attention beats torch's own kernel, where oneDNN's fused kernel cannot run: in bf16 from 1,024
    keys at every head size measured (40 to 512; the VAE's 16,384 tokens at head size 512: 11.5 → 6.9 s for two
    rows), not over a prompt's 77 keys.

    >>> beats_torch(1024, torch.bfloat16), beats_torch(77, torch.bfloat16), beats_torch(4096, torch.float32)
    (True, False, False)
    """
    return dtype == torch.bfloat16 and keys >= 1024


def query_block(keys: int) -> int:
    """Queries per block: 1 MiB of bf16 scores per row, between 64 and 256 queries (best measured at 2–16 k keys).

    >>> [query_block(n) for n in (2048, 4096, 9216, 16384, 65536)]
    [256, 128, 64, 64, 64]
    """
    return max(64, min(256, BLOCK_SCORES // keys))


def largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of `n` not above `at_most` (at least 1): a group size that splits `n` rows evenly.

    >>> [largest_divisor(16, t) for t in (0, 1, 2, 6, 32)]
    [1, 1, 2, 4, 16]
    """
    return max(g for g in range(1, max(1, min(n, at_most)) + 1) if n % g == 0)


def row_group(rows: int, threads: int) -> int:
    """Rows (batch × heads) per product: one per thread, so each thread multiplies whole matrices; a divisor of
    `rows` so that every group has the same shape.

    >>> [row_group(16, t) for t in (1, 2, 6, 32)]
    [1, 2, 4, 16]
    """
    return largest_divisor(rows, threads)


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                      threads: int | None = None) -> torch.Tensor:
    """softmax(q·kᵀ·scale)·v for q [B, H, queries, d], k [B, H, keys, d], v [B, H, keys, dv] → [B, H, queries, dv].

    `threads` (torch's count by default) sets the row groups; on one thread each row is computed alone, so its
    result does not depend on the other rows of the call."""
    batch, heads, queries, head_size = q.shape
    keys, value_size = k.shape[2], v.shape[3]
    rows = batch * heads
    qs = (q * scale).reshape(rows, queries, head_size)  # [R, N, d], scaled once here rather than per score
    kt = k.reshape(rows, keys, head_size).transpose(1, 2)  # [R, d, M]
    vt = v.transpose(2, 3).reshape(rows, value_size, keys).contiguous()  # [R, dv, M]: the left operand of vᵀ·pᵀ
    out_t = torch.empty(rows, value_size, queries, dtype=q.dtype, device=q.device)  # [R, dv, N]
    block, group = query_block(keys), row_group(rows, threads or torch.get_num_threads())
    for r in range(0, rows, group):
        q_rows, kt_rows, vt_rows, out_rows = qs[r:r + group], kt[r:r + group], vt[r:r + group], out_t[r:r + group]
        for start in range(0, queries, block):
            scores = torch.bmm(q_rows[:, start:start + block], kt_rows)  # [g, block, M]
            probs = torch.softmax(scores, dim=-1)
            torch.bmm(vt_rows, probs.transpose(1, 2), out=out_rows[:, :, start:start + block])  # [g, dv, block]
    return out_t.view(batch, heads, value_size, queries).transpose(2, 3)  # [B, H, N, dv] (a view)
