"""GenerationRequest.styles through app.txt2img: applied before everything else, unknown names refused."""
from __future__ import annotations

import re

import numpy as np
import pytest

from modules.errors import NotFound
from modules.pipeline.request import GenerationRequest
from modules.prompts.styles import PromptStyle, save_styles
from tests.fixtures.tiny_lora import lora_tensors, write_lora

BASE = dict(steps=2, width=64, height=64, seed=3, sampler_name="Euler")


def write_styles(app, *styles: PromptStyle) -> None:
    save_styles(app.paths.styles_csv, styles)


def run(app, prompt="a cat", negative="blurry", styles=(), **kw):
    return app.txt2img(GenerationRequest(prompt=prompt, negative_prompt=negative, styles=styles, **{**BASE, **kw}))


def test_styles_wrap_and_append_both_prompts_in_order(app):
    write_styles(app, PromptStyle("wrap", "masterpiece, {prompt}, 8k", "lowres, {prompt}"),
                 PromptStyle("film", "film grain", "cartoon"))
    result = run(app, styles=("wrap", "film"))
    styled, styled_negative = "masterpiece, a cat, 8k, film grain", "lowres, blurry, cartoon"
    assert result.infotexts[0].startswith(f"{styled}\nNegative prompt: {styled_negative}\n")
    assert result.all_prompts == [styled] and result.all_negative_prompts == [styled_negative]
    assert result.info["prompt"] == "a cat" and result.info["styles"] == ["wrap", "film"]
    same = run(app, prompt=styled, negative=styled_negative)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(same.images[0]))


def test_unknown_style_is_not_found_listing_the_valid_ones(app):
    write_styles(app, PromptStyle("wrap", "{prompt}!"), PromptStyle("film", "film grain"))
    with pytest.raises(NotFound, match=r"style 'nope' not found \(valid: wrap, film\)"):
        run(app, styles=("film", "nope"))


def test_no_styles_file(app):
    with pytest.raises(NotFound, match="style 'any' not found.*none defined"):
        run(app, styles=("any",))


def test_a_style_edited_on_disk_is_used_next_run(app):
    write_styles(app, PromptStyle("look", "red"))
    assert run(app, styles=("look",)).all_prompts == ["a cat, red"]
    write_styles(app, PromptStyle("look", "blue"), PromptStyle("new", "{prompt} at night"))
    assert run(app, styles=("look", "new")).all_prompts == ["a cat, blue at night"]


def test_styles_come_before_extra_networks(app):
    model = app.models.get(None)
    write_lora(app.services.loras.folder / "grain.safetensors", lora_tensors(model, seed=1, scale=0.5))
    write_styles(app, PromptStyle("grainy", "<lora:grain:1>"))
    styled = run(app, styles=("grainy",))
    assert styled.all_prompts == ["a cat, <lora:grain:1>"]
    assert re.search(r"Lora hashes: \"grain: [0-9a-f]{12}\"", styled.infotexts[0])
    plain = run(app)
    assert not np.array_equal(np.asarray(styled.images[0]), np.asarray(plain.images[0]))
