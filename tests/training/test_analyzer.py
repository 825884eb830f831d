"""The analyzer reads rendered ground truth back exactly, and degrades gracefully on blurred or empty pictures."""
from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageFilter

from modules.training.analyzer import analyze
from modules.training.render import render
from modules.training.scenes import Scene, random_scene
from modules.training.world import COLOURS, all_triples


def _scenes(n, seed):
    rng = random.Random(seed)
    return [random_scene(rng, all_triples()) for _ in range(n)]


def test_reads_rendered_ground_truth():
    scenes = _scenes(150, seed=21)
    readings = [analyze(render(s)) for s in scenes]
    for attr, field in (("colour", "colour"), ("background", "background"), ("shape", "shape"),
                        ("position", "position")):
        right = sum(getattr(r, field) == getattr(s, attr) for r, s in zip(readings, scenes))
        assert right == len(scenes), attr


def test_reads_blurred_pictures_like_a_vae_makes():
    scenes = _scenes(80, seed=22)
    right = 0
    for s in scenes:
        blurred = Image.fromarray(render(s)).filter(ImageFilter.GaussianBlur(0.8))
        r = analyze(blurred)
        assert (r.colour, r.background, r.position) == (s.colour, s.background, s.position)
        right += r.shape == s.shape
    assert right >= 0.9 * len(scenes)


def test_each_shape_type_is_told_apart():
    for shape in ("circle", "square", "triangle", "star"):
        for size in (0.13, 0.18, 0.23):
            scene = Scene("yellow", shape, "black", "centre", "medium", 0.5, 0.5, size)
            assert analyze(render(scene)).shape == shape


def test_plain_picture_has_no_shape():
    plain = np.full((64, 64, 3), COLOURS["green"], dtype=np.uint8)
    reading = analyze(plain)
    assert reading.background == "green" and reading.shape is None and reading.colour is None
