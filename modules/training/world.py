"""The built-in model's world as data: colours, shapes, positions, sizes, and which combinations are held out.

Held-out combinations (shape colour × shape × background never rendered together in training) let the quality bench
measure composition rather than memory. The split is a fixed seeded choice, checked so that every pair of the three
attributes still occurs in training.
"""
from __future__ import annotations

import functools
import itertools
import random

# name → sRGB; far apart in RGB so the analyzer's nearest-colour rule is unambiguous.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 225, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "purple": (140, 50, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "star")
# name → centre (x, y) as a fraction of the image side.
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (0.25, 0.5),
    "right": (0.75, 0.5),
    "top": (0.5, 0.25),
    "bottom": (0.5, 0.75),
    "centre": (0.5, 0.5),
}
# name → half extent of the shape as a fraction of the image side (range sampled uniformly).
SIZES: dict[str, tuple[float, float]] = {
    "small": (0.12, 0.145),
    "medium": (0.165, 0.19),
    "large": (0.21, 0.235),
}
POSITION_JITTER = 0.03
HOLDOUT_FRACTION = 0.15
HOLDOUT_SEED = 9


def all_triples() -> list[tuple[str, str, str]]:
    """Every (shape colour, shape, background) with the background differing from the shape colour.

    >>> len(all_triples())
    224
    """
    return [(c, s, b) for c, s, b in itertools.product(COLOURS, SHAPES, COLOURS) if c != b]


def _pairs_covered(train: set[tuple[str, str, str]]) -> bool:
    needed = all_triples()
    for keep in ((0, 1), (0, 2), (1, 2)):
        seen = {tuple(t[i] for i in keep) for t in train}
        if any(tuple(t[i] for i in keep) not in seen for t in needed):
            return False
    return True


@functools.lru_cache(maxsize=4)  # pure and called per scene: compute the split once
def held_out_triples(fraction: float = HOLDOUT_FRACTION, seed: int = HOLDOUT_SEED) -> frozenset:
    """The combinations the training set never renders (deterministic).

    >>> held = held_out_triples(); len(held), len(held) == len(held_out_triples())
    (34, True)
    >>> _pairs_covered(set(all_triples()) - held)
    True
    """
    triples = all_triples()
    rng = random.Random(seed)
    for _ in range(100):
        picked = frozenset(rng.sample(triples, round(len(triples) * fraction)))
        if _pairs_covered(set(triples) - picked):
            return picked
    raise RuntimeError("no hold-out split keeps every attribute pair in training")  # pragma: no cover


@functools.lru_cache(maxsize=1)
def _training_triples() -> tuple[tuple[str, str, str], ...]:
    held = held_out_triples()
    return tuple(t for t in all_triples() if t not in held)


def training_triples() -> list[tuple[str, str, str]]:
    return list(_training_triples())
