"""Split an image into overlapping tiles and put them back with feathered seams (A1111 `images.split_grid` /
`combine_grid`), for the SD upscale script: every tile is redrawn by img2img at the working size."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from modules.errors import InvalidInput


@dataclass
class Grid:
    """rows: [y, tile_h, [[x, tile_w, tile image], ...]], as A1111's namedtuple."""

    tile_w: int
    tile_h: int
    image_w: int
    image_h: int
    overlap: int
    rows: list = field(default_factory=list)

    def tiles(self) -> list[Image.Image]:
        return [tile for _, _, row in self.rows for _, _, tile in row]

    def replace_tiles(self, images: list[Image.Image]) -> None:
        """Put processed tiles back in reading order (missing ones become black, as in A1111)."""
        index = 0
        for _, _, row in self.rows:
            for cell in row:
                cell[2] = images[index] if index < len(images) else Image.new("RGB", (self.tile_w, self.tile_h))
                index += 1


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    count = max(math.ceil((length - overlap) / (tile - overlap)), 1)
    step = (length - tile) / (count - 1) if count > 1 else 0
    return [min(int(i * step), length - tile) for i in range(count)]


def split_grid(image: Image.Image, tile_w: int, tile_h: int, overlap: int) -> Grid:
    """Tiles of tile_w × tile_h covering the image, spread evenly with at least `overlap` pixels shared."""
    if image.width < tile_w or image.height < tile_h:
        raise InvalidInput("image", f"{image.width}x{image.height} is smaller than one {tile_w}x{tile_h} tile",
                           "an upscaled image at least the working size (raise the scale factor)")
    if not 0 <= overlap < min(tile_w, tile_h):
        raise InvalidInput("overlap", f"{overlap} does not fit a {tile_w}x{tile_h} tile",
                           f"0 to {min(tile_w, tile_h) - 1}")
    grid = Grid(tile_w, tile_h, image.width, image.height, overlap)
    for y in _starts(image.height, tile_h, overlap):
        row = [[x, tile_w, image.crop((x, y, x + tile_w, y + tile_h))] for x in _starts(image.width, tile_w, overlap)]
        grid.rows.append([y, tile_h, row])
    return grid


def _ramp(width: int, height: int, horizontal: bool, overlap: int) -> Image.Image:
    values = np.arange(overlap, dtype=np.float32) * 255 / overlap  # [overlap]
    ramp = np.repeat(values[None, :], height, 0) if horizontal else np.repeat(values[:, None], width, 1)
    return Image.fromarray(ramp.astype(np.uint8), mode="L")


def combine_grid(grid: Grid) -> Image.Image:
    """The tiles pasted back; in each overlap the later tile fades in linearly over the earlier one."""
    out = Image.new("RGB", (grid.image_w, grid.image_h))
    o = grid.overlap
    for y, h, row in grid.rows:
        line = Image.new("RGB", (grid.image_w, h))
        for x, w, tile in row:
            if x == 0 or o == 0:
                line.paste(tile, (x, 0))
                continue
            line.paste(tile.crop((0, 0, o, h)), (x, 0), mask=_ramp(o, h, True, o))
            line.paste(tile.crop((o, 0, w, h)), (x + o, 0))
        if y == 0 or o == 0:
            out.paste(line, (0, y))
            continue
        out.paste(line.crop((0, 0, line.width, o)), (0, y), mask=_ramp(line.width, o, False, o))
        out.paste(line.crop((0, o, line.width, h)), (0, y + o))
    return out
