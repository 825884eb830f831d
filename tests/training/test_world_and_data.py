"""The procedural world: hold-out split, captions, deterministic scenes and the rendered-set cache."""
from __future__ import annotations

import random

import numpy as np

from modules.training.dataset import CaptionSampler, load_or_render, make_scenes, shape_masks
from modules.training.render import render
from modules.training.scenes import Scene, bench_prompt, caption, dataset_items, held_out_scenes
from modules.training.world import COLOURS, POSITIONS, SHAPES, held_out_triples, training_triples


def test_world_has_the_issue_minimums():
    assert len(COLOURS) >= 8 and set(SHAPES) >= {"circle", "square", "triangle", "star"}
    assert set(POSITIONS) == {"left", "right", "top", "bottom", "centre"}


def test_held_out_combinations_never_appear_in_training_scenes():
    held = held_out_triples()
    assert held and held.isdisjoint(training_triples())
    scenes = make_scenes(3000, seed=4)
    assert not {(s.colour, s.shape, s.background) for s in scenes} & held
    assert all(s.colour != s.background for s in scenes)


def test_held_out_scenes_are_all_held_out_and_deterministic():
    scenes = held_out_scenes(200, seed=3)
    assert all((s.colour, s.shape, s.background) in held_out_triples() for s in scenes)
    assert scenes == held_out_scenes(200, seed=3) and scenes != held_out_scenes(200, seed=4)
    assert len({s.position for s in scenes}) == 5


def test_dataset_is_deterministic_from_its_seed():
    assert dataset_items(300, seed=11) == dataset_items(300, seed=11)
    assert dataset_items(300, seed=11) != dataset_items(300, seed=12)
    assert np.array_equal(render(make_scenes(1, 5)[0]), render(make_scenes(1, 5)[0]))


def test_captions_name_what_is_in_the_picture():
    rng = random.Random(0)
    scene = Scene("green", "triangle", "purple", "right", "large", 0.75, 0.5, 0.22)
    texts = [caption(scene, rng) for _ in range(400)]
    assert "" in texts  # classifier-free guidance dropout
    phrasings = {t for t in texts if "green" in t and "triangle" in t and "purple" in t and "right" in t}
    assert len(phrasings) >= 5
    for t in texts:
        words = set(t.replace(",", " ").split())
        assert words & set(COLOURS) <= {"green", "purple"} and words & set(SHAPES) <= {"triangle"}
    assert bench_prompt(scene) == "a green triangle at the right on a purple background"


def test_render_draws_the_scene():
    scene = Scene("red", "square", "blue", "left", "medium", 0.25, 0.5, 0.18)
    image = render(scene)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert tuple(image[32, 16]) == COLOURS["red"] and tuple(image[32, 60]) == COLOURS["blue"]


def test_rendered_set_is_cached_and_reloads_identically(tmp_path):
    images, scenes = load_or_render(tmp_path, 20, seed=2)
    again, scenes_again = load_or_render(tmp_path, 20, seed=2)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert np.array_equal(images, again) and scenes == scenes_again
    masks = shape_masks(images, scenes)
    assert masks.shape == (20, 1, 64, 64) and 0.005 < float(masks.mean()) < 0.4


def test_caption_sampler_resumes_its_stream():
    scenes = make_scenes(10, 1)
    a = CaptionSampler(5)
    a.captions(scenes)
    state = a.state()
    expected = a.captions(scenes)
    b = CaptionSampler(99)
    b.set_state(state)
    assert b.captions(scenes) == expected
