"""Read a picture of the built-in world back: background colour, shape colour, shape type and position.

Plain image processing, so the quality bench can score generated images without a second model:
the background is the median of the border; shape pixels are those closer to the shape's colour than to the
background (found as the colour farthest from the background, then refined); the largest 4-connected blob is the
shape; its colour and position (centroid) go to the nearest palette entry and anchor; its type is the outline
(circle, square, triangle, star) that, fitted to the blob's bounding box, overlaps it best (IoU).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from modules.training.render import SUPERSAMPLE, UNIT_OUTLINES, draw_outline
from modules.training.world import COLOURS, POSITIONS

PALETTE_NAMES = tuple(COLOURS)
PALETTE = np.array([COLOURS[n] for n in PALETTE_NAMES], dtype=np.float32)  # [K, 3]
MIN_CONTRAST = 60.0  # RGB distance below which a pixel counts as background
MIN_PIXELS = 6


@dataclass(frozen=True)
class Reading:
    background: str
    colour: str | None  # None: no shape found
    shape: str | None
    position: str | None
    pixels: int = 0


def nearest_colour(rgb: np.ndarray) -> str:
    """The palette name nearest to an RGB triple.

    >>> nearest_colour(np.array([200, 40, 50]))
    'red'
    """
    return PALETTE_NAMES[int(np.argmin(((PALETTE - rgb) ** 2).sum(axis=1)))]


def largest_blob(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean mask [H, W].

    >>> m = np.zeros((5, 5), bool); m[0, 0] = True; m[2:4, 2:5] = True
    >>> int(largest_blob(m).sum())
    6
    """
    seen = np.zeros_like(mask)
    best: list[tuple[int, int]] = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        blob, queue = [], deque([(y0, x0)])
        seen[y0, x0] = True
        while queue:
            y, x = queue.popleft()
            blob.append((y, x))
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        if len(blob) > len(best):
            best = blob
    out = np.zeros_like(mask)
    if best:
        ys, xs = zip(*best)
        out[list(ys), list(xs)] = True
    return out


def outline_mask(shape: str, box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """Boolean [H, W]: pixels at least half covered by `shape` fitted to `box` (pixel-edge coordinates)."""
    h, w = size
    image = Image.new("L", (w * SUPERSAMPLE, h * SUPERSAMPLE), 0)
    x0, y0, x1, y1 = (v * SUPERSAMPLE for v in box)
    draw_outline(ImageDraw.Draw(image), shape, (x0, y0, x1, y1), 255)
    small = np.asarray(image.resize((w, h), Image.Resampling.BOX))
    return small >= 128


def classify_shape(blob: np.ndarray) -> str:
    """The outline whose fit to the blob's bounding box has the highest IoU with the blob."""
    ys, xs = np.nonzero(blob)
    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    scores: dict[str, float] = {}
    for shape in UNIT_OUTLINES:
        template = outline_mask(shape, box, blob.shape)
        scores[shape] = (template & blob).sum() / max(1, (template | blob).sum())
    return max(scores, key=scores.__getitem__)


def nearest_position(cx: float, cy: float) -> str:
    """Anchor nearest to a centroid given as fractions of the image side.

    >>> nearest_position(0.3, 0.45), nearest_position(0.5, 0.56)
    ('left', 'centre')
    """
    return min(POSITIONS, key=lambda p: (POSITIONS[p][0] - cx) ** 2 + (POSITIONS[p][1] - cy) ** 2)


def _border(rgb: np.ndarray, width: int = 2) -> np.ndarray:
    return np.concatenate([rgb[:width].reshape(-1, 3), rgb[-width:].reshape(-1, 3),
                           rgb[:, :width].reshape(-1, 3), rgb[:, -width:].reshape(-1, 3)])


def analyze(image) -> Reading:
    """Read one picture (PIL image or uint8 array [H, W, 3])."""
    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32)
    bg = np.median(_border(rgb), axis=0)  # [3]
    dist_bg = np.sqrt(((rgb - bg) ** 2).sum(axis=-1))  # [H, W]
    candidate = dist_bg > MIN_CONTRAST
    if candidate.sum() < MIN_PIXELS:
        return Reading(nearest_colour(bg), None, None, None)
    core = candidate & (dist_bg >= np.percentile(dist_bg[candidate], 50))
    fg = np.median(rgb[core], axis=0)  # [3] the shape's colour
    dist_fg = np.sqrt(((rgb - fg) ** 2).sum(axis=-1))
    blob = largest_blob((dist_fg < dist_bg) & candidate)
    if blob.sum() < MIN_PIXELS:
        return Reading(nearest_colour(bg), None, None, None)
    h, w = blob.shape
    ys, xs = np.nonzero(blob)
    colour = nearest_colour(np.median(rgb[blob], axis=0))
    position = nearest_position((xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h)
    return Reading(nearest_colour(bg), colour, classify_shape(blob), position, int(blob.sum()))
