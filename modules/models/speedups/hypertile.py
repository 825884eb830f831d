"""HyperTile (tiled self-attention), with the arithmetic of A1111's built-in Hypertile extension.

A self-attention over an h × w token grid costs (h·w)²; split into nh × nw tiles that attend only within
themselves it costs (h·w)² / (nh·nw). The tile side in pixels is the largest power of two dividing both image
sides, capped by the setting and floored at 128; at depth d (a 2^d-times smaller grid) a tile side must reach
2^d times that, so deeper levels split only on large images. Among the `swap_size` smallest admissible tile sides
one is drawn at random per call, from a generator seeded by the batch's first seed.
"""
from __future__ import annotations

import math
import random

import torch


def tile_pixels(width: int, height: int, max_tile: int) -> int:
    """The tile side in pixels for an image size.

    >>> tile_pixels(512, 512, 256), tile_pixels(512, 768, 512), tile_pixels(520, 512, 256)
    (256, 256, 8)
    """
    gcd, side = math.gcd(width, height), 1
    while gcd % (side * 2) == 0:
        side *= 2
    return min(side, max_tile)


def tile_count_choices(side: int, min_tile: int, options: int) -> list[int]:
    """How many tiles a grid side of `side` tokens may be cut into: whole tiles of at least `min_tile` tokens,
    the `options` smallest tiles (most tiles) first; at least one choice.

    >>> tile_count_choices(64, 32, 3), tile_count_choices(32, 64, 3), tile_count_choices(96, 16, 2)
    ([2, 1], [1], [6, 4])
    """
    smallest = min(min_tile, side)
    sides = [t for t in range(smallest, side + 1) if side % t == 0]
    return [side // t for t in sides[:max(options, 1)]]


def tile_counts(h: int, w: int, depth: int, image_size: tuple[int, int], max_tile: int, swap_size: int,
                rng: random.Random) -> tuple[int, int]:
    """(nh, nw) for one self-attention over an h × w grid at `depth` of an image (width, height)."""
    latent_tile = max(128, tile_pixels(*image_size, max_tile)) // 8
    choices_h = tile_count_choices(h, latent_tile * 2 ** depth, swap_size)
    choices_w = tile_count_choices(w, latent_tile * 2 ** depth, swap_size)
    return choices_h[rng.randrange(len(choices_h))], choices_w[rng.randrange(len(choices_w))]


def split_tiles(x: torch.Tensor, h: int, w: int, nh: int, nw: int) -> torch.Tensor:
    """Tokens [B, h*w, C] of a row-major grid → [B*nh*nw, (h/nh)*(w/nw), C], one row per tile."""
    b, _, c = x.shape
    x = x.reshape(b, nh, h // nh, nw, w // nw, c).permute(0, 1, 3, 2, 4, 5)  # [B, nh, nw, th, tw, C]
    return x.reshape(b * nh * nw, (h // nh) * (w // nw), c)


def join_tiles(x: torch.Tensor, h: int, w: int, nh: int, nw: int) -> torch.Tensor:
    """The inverse of `split_tiles`: [B*nh*nw, th*tw, C] → [B, h*w, C]."""
    c = x.shape[-1]
    x = x.reshape(-1, nh, nw, h // nh, w // nw, c).permute(0, 1, 3, 2, 4, 5)  # [B, nh, th, nw, tw, C]
    return x.reshape(-1, h * w, c)


def split_image_tiles(x: torch.Tensor, nh: int, nw: int) -> torch.Tensor:
    """Feature maps [B, C, h, w] → [B*nh*nw, C, h/nh, w/nw], one map per tile (the VAE's attention input)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, nh, h // nh, nw, w // nw).permute(0, 2, 4, 1, 3, 5)  # [B, nh, nw, C, th, tw]
    return x.reshape(b * nh * nw, c, h // nh, w // nw).contiguous()  # diffusers' processors `view` their input


def join_image_tiles(x: torch.Tensor, nh: int, nw: int) -> torch.Tensor:
    """The inverse of `split_image_tiles`: [B*nh*nw, C, th, tw] → [B, C, th*nh, tw*nw]."""
    _, c, th, tw = x.shape
    x = x.reshape(-1, nh, nw, c, th, tw).permute(0, 3, 1, 4, 2, 5)  # [B, C, nh, th, nw, tw]
    return x.reshape(-1, c, nh * th, nw * tw).contiguous()
