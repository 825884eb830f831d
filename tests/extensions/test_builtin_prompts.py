"""The built-in Prompt matrix and Prompts from file or textbox: their pure parsers, and runs on the tiny model."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from modules.extensions.compat import binding
from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import load_builtin

BASE = dict(steps=2, width=64, height=64, seed=5, sampler_name="Euler")


def load(path: str):
    return load_builtin(path)


@pytest.fixture(scope="module")
def app(builtin_app):
    return builtin_app


@pytest.fixture(autouse=True)
def bound(app):
    binding.bind(app, app.scripts)


@pytest.mark.parametrize("path", ["prompt-matrix/scripts/prompt_matrix.py",
                                  "prompts-from-file/scripts/prompts_from_file.py"])
def test_doctests(path):
    assert doctest.testmod(load(path)).failed == 0


def test_prompt_matrix_makes_every_combination_and_a_labelled_grid(app):
    result = app.txt2img(GenerationRequest(prompt="a cube|red|big", **BASE, batch_size=2,
                                           script_name="Prompt matrix",
                                           script_args=[False, True, "positive", "comma", 0]))
    grid, cells = result.images[0], result.images[1:]
    assert result.all_prompts == ["a cube", "a cube, red", "a cube, big", "a cube, red, big"]
    assert result.all_seeds == [5, 6, 7, 8]  # "Use different seed for each picture"
    assert [t.split("\n")[0] for t in result.infotexts[1:]] == result.all_prompts
    assert len(cells) == 4 and grid.width > 128 and grid.height > 128
    right_bottom = np.asarray(grid.crop((grid.width - 64, grid.height - 64, grid.width, grid.height)))
    assert np.array_equal(right_bottom, np.asarray(cells[3]))


def test_prompt_matrix_on_the_negative_prompt_keeps_one_seed(app):
    result = app.txt2img(GenerationRequest(prompt="a cube", negative_prompt="dark|blurry", **BASE,
                                           script_name="Prompt matrix",
                                           script_args=[True, False, "negative", "space", 0]))
    assert result.all_negative_prompts == ["dark", "blurry dark"] and result.all_seeds == [5, 5]
    assert "Negative prompt: blurry dark" in result.infotexts[2]


def test_prompts_from_textbox_one_job_per_line(app):
    lines = "a red cube\n\n--prompt blue ball --steps 1 --cfg_scale 3\n--negative_prompt x --seed 9\n--steps ten"
    result = app.txt2img(GenerationRequest(prompt="", **BASE, script_name="Prompts from file or textbox",
                                           script_args=[True, False, "start", lines]))
    assert result.all_prompts == ["a red cube", "blue ball", "", "--steps ten"]
    assert result.all_seeds == [5, 6, 9, 8], "iterate seed every line; --seed wins on its line"
    assert "Steps: 1, Sampler: Euler, CFG scale: 3" in result.infotexts[1]
    assert "Negative prompt: x" in result.infotexts[2]


def test_prompts_join_the_main_prompt_at_the_chosen_end(app):
    result = app.txt2img(GenerationRequest(prompt="studio light", **BASE, script_name="Prompts from file or textbox",
                                           script_args=[False, False, "end", "a cube\n--prompt a ball"]))
    assert result.all_prompts == ["studio light a cube", "studio light a ball"]
