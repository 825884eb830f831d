"""Scenes of the built-in world and their captions, drawn deterministically from a seed.

A scene is one shape of one colour on a plain background. Captions come in several phrasings; some name only part
of the scene (the rest is then random), which teaches the model each word on its own — what makes negative prompts
such as "red" work — and an empty caption trains the unconditional prediction used by classifier-free guidance.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from modules.training.world import POSITION_JITTER, POSITIONS, SIZES, held_out_triples, training_triples

POSITION_WORDS = {
    "left": ("at the left", "on the left", "in the left"),
    "right": ("at the right", "on the right", "in the right"),
    "top": ("at the top", "on the top", "in the top"),
    "bottom": ("at the bottom", "on the bottom", "in the bottom"),
    "centre": ("in the centre", "in the center", "in the middle"),
}
SIZE_WORDS = {"small": ("small", "tiny"), "medium": ("",), "large": ("large", "big")}

# Full phrasings name colour, shape, background and position; {size} may be empty.
FULL_TEMPLATES = (
    "a {size}{colour} {shape} {where} on a {bg} background",
    "{bg} background, {size}{colour} {shape} {where}",
    "a {size}{colour} {shape} {where}, {bg} background",
    "{size}{colour} {shape} {where} on {bg}",
    "a picture of a {size}{colour} {shape} {where} on a {bg} background",
)
NO_POSITION_TEMPLATES = (
    "a {size}{colour} {shape} on a {bg} background",
    "{bg} background, {size}{colour} {shape}",
)
PARTIAL_TEMPLATES = (
    "a {colour} {shape}",
    "a {shape} on a {bg} background",
    "a {colour} {shape} {where}",
    "a {shape} {where}",
    "{bg} background",
    "a {shape}",
    "{colour}",
    "a {colour} shape on a {bg} background",
)
# Probabilities of each caption kind (the rest: empty caption for classifier-free guidance).
P_FULL, P_NO_POSITION, P_PARTIAL = 0.62, 0.1, 0.18


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    background: str
    position: str
    size: str
    cx: float  # centre, fraction of the image side
    cy: float
    half: float  # half extent, fraction of the image side


def random_scene(rng: random.Random, triples=None) -> Scene:
    """One scene from `triples` (default: the training combinations)."""
    colour, shape, background = rng.choice(triples or training_triples())
    position = rng.choice(list(POSITIONS))
    size = rng.choice(list(SIZES))
    px, py = POSITIONS[position]
    lo, hi = SIZES[size]
    return Scene(colour, shape, background, position, size,
                 cx=px + rng.uniform(-POSITION_JITTER, POSITION_JITTER),
                 cy=py + rng.uniform(-POSITION_JITTER, POSITION_JITTER), half=rng.uniform(lo, hi))


def _fill(template: str, scene: Scene, rng: random.Random) -> str:
    size = rng.choice(SIZE_WORDS[scene.size]) if rng.random() < 0.5 else ""
    text = template.format(size=f"{size} " if size else "", colour=scene.colour, shape=scene.shape,
                           bg=scene.background, where=rng.choice(POSITION_WORDS[scene.position]))
    return " ".join(text.split())


def caption(scene: Scene, rng: random.Random) -> str:
    """A caption for `scene`: full, without position, partial or empty (see the P_* weights).

    >>> s = Scene("red", "circle", "blue", "left", "small", 0.25, 0.5, 0.1)
    >>> caption(s, random.Random(3))
    'a picture of a tiny red circle in the left on a blue background'
    """
    roll = rng.random()
    if roll < P_FULL:
        return _fill(rng.choice(FULL_TEMPLATES), scene, rng)
    if roll < P_FULL + P_NO_POSITION:
        return _fill(rng.choice(NO_POSITION_TEMPLATES), scene, rng)
    if roll < P_FULL + P_NO_POSITION + P_PARTIAL:
        return _fill(rng.choice(PARTIAL_TEMPLATES), scene, rng)
    return ""


def bench_prompt(scene: Scene) -> str:
    """The fixed phrasing the quality bench uses for a scene (a full training template, no size word).

    >>> bench_prompt(Scene("red", "star", "white", "top", "medium", 0.5, 0.25, 0.16))
    'a red star at the top on a white background'
    """
    return f"a {scene.colour} {scene.shape} {POSITION_WORDS[scene.position][0]} on a {scene.background} background"


def held_out_scenes(count: int, seed: int) -> list[Scene]:
    """`count` scenes whose colour × shape × background was never rendered in training (medium size)."""
    rng = random.Random(seed)
    triples = sorted(held_out_triples())
    scenes = []
    for _ in range(count):
        s = random_scene(rng, triples)
        scenes.append(Scene(s.colour, s.shape, s.background, s.position, "medium", *POSITIONS[s.position],
                            half=sum(SIZES["medium"]) / 2))
    return scenes


def dataset_items(count: int, seed: int) -> list[tuple[Scene, str]]:
    """`count` (scene, caption) pairs; the same seed gives the same list."""
    rng = random.Random(seed)
    return [(scene, caption(scene, rng)) for scene in (random_scene(rng) for _ in range(count))]


