"""Draw scenes: anti-aliased by drawing at 4× and averaging down. Shapes are defined in their unit bounding box so
the analyzer can match a found shape against the same outlines."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from modules.training.scenes import Scene
from modules.training.world import COLOURS

SUPERSAMPLE = 4
STAR_INNER = 0.45  # inner radius / outer radius of the five-pointed star


def _star_points() -> list[tuple[float, float]]:
    pts = []
    for i in range(10):
        r = 1.0 if i % 2 == 0 else STAR_INNER
        a = -math.pi / 2 + i * math.pi / 5
        pts.append((r * math.cos(a), r * math.sin(a)))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    return [((x - x0) / (x1 - x0), (y - y0) / (y1 - y0)) for x, y in pts]


# Outlines in the unit box [0,1]² (None: the ellipse inscribed in the box).
UNIT_OUTLINES: dict[str, list[tuple[float, float]] | None] = {
    "circle": None,
    "square": [(0, 0), (1, 0), (1, 1), (0, 1)],
    "triangle": [(0.5, 0), (1, 1), (0, 1)],
    "star": _star_points(),
}


def draw_outline(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], fill) -> None:
    """Fill `shape` fitted to the pixel box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    outline = UNIT_OUTLINES[shape]
    if outline is None:
        draw.ellipse(box, fill=fill)
    else:
        draw.polygon([(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in outline], fill=fill)


def render(scene: Scene, size: int = 64) -> np.ndarray:
    """The scene as uint8 RGB [size, size, 3]."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big), COLOURS[scene.background])
    cx, cy, h = scene.cx * big, scene.cy * big, scene.half * big
    draw_outline(ImageDraw.Draw(image), scene.shape, (cx - h, cy - h, cx + h, cy + h), COLOURS[scene.colour])
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


def render_many(scenes, size: int = 64) -> np.ndarray:
    """uint8 [N, 3, size, size] (channels first, as the models take them)."""
    return np.stack([render(s, size) for s in scenes]).transpose(0, 3, 1, 2).copy()
