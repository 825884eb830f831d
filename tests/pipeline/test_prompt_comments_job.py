"""Prompt comments through whole jobs on the tiny model: what follows `#` never reaches the text encoder, the
infotext records the stripped prompt, LoRA tags inside a comment are not applied, and the setting turns it off."""
import numpy as np
import pytest

from modules.pipeline.request import GenerationRequest

BASE = dict(negative_prompt="blue # not this either", steps=3, width=64, height=64, seed=5, sampler_name="Euler")


def run(app, prompt, **overrides):
    return app.txt2img(GenerationRequest(prompt=prompt, **BASE, override_settings=overrides))


def pixels(result):
    return np.asarray(result.images[0], dtype=np.int16)


def test_a_comment_is_not_generated_nor_recorded(app):
    commented = run(app, "a red circle # on a green square <lora:nope:1>")
    stripped = app.txt2img(GenerationRequest(**{**BASE, "prompt": "a red circle \n", "negative_prompt": "blue \n"}))
    assert np.array_equal(pixels(commented), pixels(stripped))
    assert commented.infotexts[0].startswith("a red circle \n\nNegative prompt: blue \n\nSteps: 3")
    assert not any("nope" in w for w in commented.warnings)  # the LoRA tag sat in the comment


def test_the_setting_turns_comments_off(app):
    on, off = run(app, "a red circle # a green square"), run(app, "a red circle # a green square",
                                                               enable_prompt_comments=False)
    assert not np.array_equal(pixels(on), pixels(off))
    assert "# a green square" in off.infotexts[0]


@pytest.mark.parametrize("hr_prompt, written", [("a blue circle # big", 'Hires prompt: "a blue circle \\n"'),
                                                ("a red circle # other note", None)])
def test_hires_prompts_are_stripped_too(app, hr_prompt, written):
    req = GenerationRequest(prompt="a red circle # note", **BASE, enable_hr=True, hr_scale=1.5,
                            denoising_strength=0.5, hr_prompt=hr_prompt)
    text = app.txt2img(req).infotexts[0]
    if written is None:  # the same prompt once stripped: no entry, as in A1111
        assert "Hires prompt" not in text
    else:
        assert written in text and "big" not in text
