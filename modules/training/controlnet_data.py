"""Control images and captions for the built-in model's ControlNet (`modules/training/train_controlnet.py`).

The control image is the shape's outline — clean, or a scribble of it — white on black where the shape should be,
as the scribble ControlNets take it (a user's black-on-white drawing goes through the `invert` preprocessor first).
Captions name only colours, so the shape's type, place and size can come only from the control image.
"""
from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from modules.training.render import SUPERSAMPLE, UNIT_OUTLINES
from modules.training.scenes import Scene

CONTROL_KINDS = ("outline", "scribble")
CAPTIONS = (  # (template, probability); the rest: empty (the unconditional rows of classifier-free guidance)
    ("a {colour} shape on a {bg} background", 0.5),
    ("a {colour} shape", 0.1),
    ("{bg} background", 0.05),
    ("{colour}", 0.05),
)


def outline_points(shape: str, box: tuple[float, float, float, float], per_side: int = 24) -> list[tuple[float, float]]:
    """A closed polygon along `shape` fitted to the pixel box (x0, y0, x1, y1); the first point repeats at the end.

    >>> pts = outline_points("square", (0, 0, 10, 10), per_side=2)
    >>> pts[0] == pts[-1], len(pts), pts[1]
    (True, 9, (5.0, 0.0))
    """
    x0, y0, x1, y1 = box
    unit = UNIT_OUTLINES[shape]
    if unit is None:  # the ellipse inscribed in the box
        n = per_side * 4
        unit = [(0.5 + 0.5 * math.cos(2 * math.pi * i / n), 0.5 + 0.5 * math.sin(2 * math.pi * i / n))
                for i in range(n)]
        dense = unit
    else:
        dense = []
        for (ua, va), (ub, vb) in zip(unit, unit[1:] + unit[:1]):
            dense += [(ua + (ub - ua) * k / per_side, va + (vb - va) * k / per_side) for k in range(per_side)]
    pts = [(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in dense]
    return pts + pts[:1]


def _wobble(points: list[tuple[float, float]], rng: random.Random, amplitude: float) -> list[tuple[float, float]]:
    """Points moved by a smooth random displacement (two low-frequency sines per axis): a hand's wobble."""
    n = len(points)
    waves = [(rng.uniform(-amplitude, amplitude), rng.randint(1, 3), rng.uniform(0, 2 * math.pi)) for _ in range(4)]

    def offset(i: int, pair) -> float:
        return sum(a * math.sin(2 * math.pi * f * i / n + p) for a, f, p in pair)

    return [(x + offset(i, waves[:2]), y + offset(i, waves[2:])) for i, (x, y) in enumerate(points)]


def _scribbled(points: list[tuple[float, float]], rng: random.Random, big: int) -> list[tuple[float, float]]:
    """The contour from a random start point, wobbled, and sometimes left slightly open at its end."""
    start = rng.randrange(len(points) - 1)
    points = points[start:-1] + points[:start + 1]
    points = _wobble(points, rng, amplitude=rng.uniform(0.01, 0.04) * big)
    return points[:len(points) - rng.randint(0, len(points) // 12)]


def control_image(scene: Scene, kind: str = "outline", rng: random.Random | None = None,
                  size: int = 64) -> np.ndarray:
    """uint8 [size, size, 3]: the scene's shape drawn as a white line on black, anti-aliased.

    "outline" is the exact contour (1.5 px); "scribble" is a wobbly one of 1-3 px drawn from a point near the
    contour, its box off by up to 6 % of its size, and sometimes left slightly open (needs `rng`).
    """
    if kind not in CONTROL_KINDS:
        raise ValueError(f"unknown control kind {kind!r}; known: {', '.join(CONTROL_KINDS)}")
    big = size * SUPERSAMPLE
    cx, cy, h = scene.cx * big, scene.cy * big, scene.half * big
    width = 1.5 * SUPERSAMPLE
    box = (cx - h, cy - h, cx + h, cy + h)
    if kind == "scribble":
        rng = rng or random.Random(0)
        x0, y0, x1, y1 = (v + rng.uniform(-0.06, 0.06) * 2 * h for v in box)
        box = (x0, y0, x1, y1)
        width = rng.uniform(1.0, 3.0) * SUPERSAMPLE
        points = _scribbled(outline_points(scene.shape, box), rng, big)
    else:
        points = outline_points(scene.shape, box)
    image = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(image)
    draw.line(points, fill=255, width=max(1, round(width)), joint="curve")
    for x, y in (points[0], points[-1]):  # round line ends
        draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    small = np.asarray(image.resize((size, size), Image.Resampling.BOX))
    return np.repeat(small[:, :, None], 3, axis=2)


def colour_caption(scene: Scene, rng: random.Random) -> str:
    """A caption naming only the scene's colours (or nothing).

    >>> colour_caption(Scene("red", "star", "blue", "top", "medium", .5, .25, .17), random.Random(1))
    'a red shape on a blue background'
    """
    roll, total = rng.random(), 0.0
    for template, p in CAPTIONS:
        total += p
        if roll < total:
            return template.format(colour=scene.colour, bg=scene.background)
    return ""


def bench_caption(scene: Scene) -> str:
    """The fixed colour-only prompt of the held-out evaluation and the bench."""
    return CAPTIONS[0][0].format(colour=scene.colour, bg=scene.background)


def hints(scenes: list[Scene], kind: str, seed: int, outline_share: float = 0.5) -> np.ndarray:
    """float32 [N, 3, 64, 64] in [0, 1]: control images of `scenes` (scribbles drawn from `seed`; "mixed": each
    scene's kind drawn too, the exact outline with probability `outline_share`)."""
    rng = random.Random(seed)
    out = []
    for scene in scenes:
        this = ("outline" if rng.random() < outline_share else "scribble") if kind == "mixed" else kind
        out.append(control_image(scene, this, random.Random(rng.random())))
    return np.stack(out).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
