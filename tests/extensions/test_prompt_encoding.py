"""Extensions encode prompts themselves through A1111's names (sd-webui-negpip encodes the negatively weighted words
of a prompt on their own): `prompt_parser.get_learned_conditioning` gives each prompt's schedule of conds, encoded
by the loaded model, and `cond_stage_model.tokenize_line` a prompt's 77-token chunks and its token count."""
from __future__ import annotations

import pytest
import torch

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def loaded_app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("encoding"), tiny_checkpoint, "--nowebui")
    start(app, [])
    app.txt2img(GenerationRequest(prompt="a red circle", steps=1, width=64, height=64, seed=1))  # loads the model
    yield app
    app.jobs.close()
    stop(app)


def test_get_learned_conditioning_follows_the_schedule(loaded_app):
    from modules import prompt_parser, shared

    conds = prompt_parser.get_learned_conditioning(shared.sd_model, ["a [red:blue:2] circle", "x"], 4)
    assert [[c.end_at_step for c in schedule] for schedule in conds] == [[2, 4], [4]]
    first, second = conds[0][0].cond, conds[0][1].cond
    assert first.shape[0] == 77 and first.ndim == 2 and not torch.equal(first, second)
    [[again]] = prompt_parser.get_learned_conditioning(shared.sd_model, ["a red circle"], 4)
    assert torch.equal(again.cond, first)  # the same text encodes the same, wherever it came from


def test_tokenize_line_chunks_and_counts(loaded_app):
    from modules import shared

    chunks, count = shared.sd_model.cond_stage_model.tokenize_line("a (red:1.5) BREAK circle")
    assert (len(chunks), count) == (2, 76) and len(chunks[0].tokens) == 77 and 1.5 in chunks[0].multipliers
    assert shared.sd_model.cond_stage_model.tokenize_line("red")[1] == 1
