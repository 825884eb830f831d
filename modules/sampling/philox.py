"""CUDA's `torch.randn` on any device: Philox 4x32-10 (Salmon et al. 2011) and a Box-Muller transform.

A1111's "NV" noise source: on a CPU it gives the numbers an NVIDIA GPU gives for the same seed, so images made on
such a GPU can be remade here. Draw k of a generator uses counter (k, 0, i, 0) for element i and key = seed.

>>> [round(float(v), 4) for v in PhiloxGenerator(0).randn((2, 4)).flatten()]  # CUDA: torch.randn(2, 4) seed 0
[-0.9247, -0.4253, -2.6438, 0.1452, -0.1209, -0.5797, -0.6229, -0.3284]
"""
from __future__ import annotations

import math

import numpy as np

MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
WEYL = (0x9E3779B9, 0xBB67AE85)
ROUNDS = 10
TWO_POW32_INV = np.float32(2.3283064e-10)
TWO_POW32_INV_2PI = np.float32(2.3283064e-10 * 6.2831855)


def _mulhilo(a: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) 32-bit halves of the 64-bit products a * m."""
    product = a.astype(np.uint64) * np.uint64(m)
    return (product >> np.uint64(32)).astype(np.uint32), product.astype(np.uint32)


def philox4x32(counter: list[np.ndarray], key: list[np.ndarray]) -> list[np.ndarray]:
    """Ten Philox rounds over 4 x N counters with 2 x N keys (uint32, wrapping)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(ROUNDS):
        if r:
            k0, k1 = k0 + np.uint32(WEYL[0]), k1 + np.uint32(WEYL[1])
        hi0, lo0 = _mulhilo(c0, MULTIPLIERS[0])
        hi2, lo2 = _mulhilo(c2, MULTIPLIERS[1])
        c0, c1, c2, c3 = hi2 ^ c1 ^ k0, lo2, hi0 ^ c3 ^ k1, lo0
    return [c0, c1, c2, c3]


def box_muller(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The first normal of the Box-Muller pair, as curand computes it from two uint32."""
    u = x * TWO_POW32_INV + TWO_POW32_INV / 2
    v = y * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2
    return (np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32)


class PhiloxGenerator:
    """A seeded stream of standard normals equal to CUDA `torch.randn` with `torch.Generator("cuda")`."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.offset = 0

    def randn(self, shape) -> np.ndarray:
        """The next draw, float32 of `shape` (at most 2^32 numbers)."""
        n = math.prod(shape)
        zeros = np.zeros(n, dtype=np.uint32)
        counter = [np.full(n, self.offset, dtype=np.uint32), zeros, np.arange(n, dtype=np.uint32), zeros]
        key = [np.full(n, self.seed & 0xFFFFFFFF, dtype=np.uint32), np.full(n, self.seed >> 32, dtype=np.uint32)]
        self.offset += 1
        out = philox4x32(counter, key)
        return box_muller(out[0], out[1]).reshape(shape)
