"""Run an image-to-image model tile by tile with overlap, feathering the seams (A1111's ESRGAN tiling idea).

Tiles of `tile` pixels overlap by `overlap`; each output pixel is the weighted mean of the tiles covering it,
weights ramping linearly across the overlap, so seams fade instead of showing. A per-pixel model gives exactly
the untiled result; a convolutional one differs only near seams.
"""
from __future__ import annotations

from collections.abc import Callable

import torch


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length), the last one flush with the end.

    >>> tile_starts(10, 4, 1), tile_starts(4, 8, 2), tile_starts(8, 4, 0)
    ([0, 3, 6], [0], [0, 4])
    """
    if length <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def ramp(length: int, fade: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """Weights [length]: 1 inside, rising over `fade` samples at an inner edge (not at the image border)."""
    w = torch.ones(length)
    if fade > 0:
        steps = torch.arange(1, fade + 1, dtype=torch.float32) / (fade + 1)  # [fade] in (0, 1)
        if not at_start:
            w[:fade] = torch.minimum(w[:fade], steps)
        if not at_end:
            w[-fade:] = torch.minimum(w[-fade:], steps.flip(0))
    return w


def count_tiles(height: int, width: int, tile: int, overlap: int) -> int:
    if tile <= 0:
        return 1
    return len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))


def upscale_tiled(model: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, scale: int, tile: int,
                  overlap: int, progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """image [1, C, H, W] → model output [1, C', H*scale, W*scale], computed in tiles (tile 0: in one go)."""
    _, _, height, width = image.shape
    total = count_tiles(height, width, tile, overlap)
    if tile <= 0 or (height <= tile and width <= tile):
        whole = model(image)  # [1, C', H*s, W*s]
        if progress:
            progress(1, 1)
        return whole
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    out: torch.Tensor | None = None
    weight: torch.Tensor | None = None
    done = 0
    for y in ys:
        for x in xs:
            piece = model(image[:, :, y:y + tile, x:x + tile])  # [1, C', th*s, tw*s]
            if out is None or weight is None:
                out = piece.new_zeros(1, piece.shape[1], height * scale, width * scale)
                weight = piece.new_zeros(1, 1, height * scale, width * scale)
            th, tw = piece.shape[-2:]
            wy = ramp(th, overlap * scale, y == 0, y + tile >= height)
            wx = ramp(tw, overlap * scale, x == 0, x + tile >= width)
            w = (wy[:, None] * wx[None, :]).to(piece)  # [th, tw]
            out[:, :, y * scale:y * scale + th, x * scale:x * scale + tw] += piece * w
            weight[:, :, y * scale:y * scale + th, x * scale:x * scale + tw] += w
            done += 1
            if progress:
                progress(done, total)
    assert out is not None and weight is not None  # ys and xs each hold at least one start
    return out / weight
