"""Hires fix's second pass and extra networks, as A1111's `sample_hr_pass` runs it: the hires prompt's LoRAs are
patched in before its conds are made and its UNet runs (a LoRA written only there acts only there; one written only
in the first prompt is off for the second pass); `hires_fix_use_firstpass_conds` makes those conds under the first
pass's LoRAs instead. Also `use_old_hires_fix_width_height`: width and height are the final size."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from modules.imaging.paste_rules import PasteRules, paste_params
from modules.pipeline.hires import first_pass_request
from modules.pipeline.request import GenerationRequest
from tests.fixtures.tiny_lora import lora_tensors, write_lora
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=7,
            sampler_name="Euler", enable_hr=True, hr_scale=1.5, denoising_strength=0.6, hr_second_pass_steps=2)
FIRST_SIDE, SECOND_SIDE = 64 // 8, 96 // 8  # latent sides of the two passes


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("hires-networks"), tiny_checkpoint)
    model = app.models.get(None)
    write_lora(app.services.loras.folder / "grain.safetensors", lora_tensors(model, seed=1, scale=0.5))
    yield app
    app.jobs.close()


def patched_by_pass(app, req: GenerationRequest) -> tuple[dict[int, set[bool]], object]:
    """Run `req`; for each pass (by latent side) whether the UNet's weights differed from the file's at its calls."""
    model = app.models.get(None)
    clean = {k: v.detach().clone() for k, v in model.unet.state_dict().items()}
    seen: dict[int, set[bool]] = {}
    forward = model.engine.unet_forward

    def watched(x, *args, **kwargs):  # x [B, C, h, w]
        now = model.unet.state_dict()
        seen.setdefault(x.shape[-1], set()).add(any(not torch.equal(now[k], v) for k, v in clean.items()))
        return forward(x, *args, **kwargs)

    model.engine.unet_forward = watched
    try:
        result = app.txt2img(req)
    finally:
        del model.engine.unet_forward
    after = model.unet.state_dict()
    assert all(torch.equal(after[k], v) for k, v in clean.items())  # the job leaves the file's weights
    return seen, result


def test_a_lora_in_the_hires_prompt_acts_in_the_second_pass_only(app):
    seen, result = patched_by_pass(app, GenerationRequest(**BASE, hr_prompt="a red circle <lora:grain:1>"))
    assert seen == {FIRST_SIDE: {False}, SECOND_SIDE: {True}}
    assert "grain" in result.infotexts[0].split("Lora hashes: ")[1]
    assert "Hires prompt: \"a red circle <lora:grain:1>\"" in result.infotexts[0]


def test_a_lora_of_the_first_prompt_alone_is_off_for_the_second_pass(app):
    seen, _ = patched_by_pass(app, GenerationRequest(**{**BASE, "prompt": "a red circle <lora:grain:1>"},
                                                     hr_prompt="a red circle"))
    assert seen == {FIRST_SIDE: {True}, SECOND_SIDE: {False}}
    kept, _ = patched_by_pass(app, GenerationRequest(**{**BASE, "prompt": "a red circle <lora:grain:1>"}))
    assert kept == {FIRST_SIDE: {True}, SECOND_SIDE: {True}}  # no hires prompt: the batch's LoRAs stay


def test_firstpass_conds_setting_makes_the_hires_conds_under_the_first_pass_loras(app):
    """The second pass's UNet runs without the LoRA either way; only where its conds were made differs."""
    req = dict(**{**BASE, "prompt": "a red circle <lora:grain:1:1:0>"}, hr_prompt="a red circle")  # te only

    def pixels(**settings) -> np.ndarray:
        result = app.txt2img(GenerationRequest(**req, override_settings=settings))
        return np.asarray(result.images[0], dtype=np.int16)

    assert not np.array_equal(pixels(hires_fix_use_firstpass_conds=True), pixels())
    plain = dict(**BASE, hr_prompt="a red circle")  # no LoRA anywhere: the setting changes nothing
    images = [app.txt2img(GenerationRequest(**plain, override_settings={"hires_fix_use_firstpass_conds": on}))
              for on in (False, True)]
    assert np.array_equal(np.asarray(images[0].images[0]), np.asarray(images[1].images[0]))


def test_old_hires_size_rule_takes_width_and_height_as_the_final_size(app):
    req = GenerationRequest(**{**BASE, "width": 128, "height": 96})
    first = first_pass_request(req, old_size_rule=True)
    assert (first.width, first.height, first.hr_resize_x, first.hr_resize_y) == (640, 448, 128, 96)
    assert first_pass_request(req) == req
    assert first_pass_request(req.replace(enable_hr=False), old_size_rule=True).width == 128
    result = app.txt2img(req.replace(steps=1, hr_second_pass_steps=1,
                                     override_settings={"use_old_hires_fix_width_height": True}))
    assert result.images[0].size == (128, 96)
    assert "Size: 640x448" in result.infotexts[0] and "Hires resize: 128x96" in result.infotexts[0]


def test_old_hires_size_rule_pastes_the_hires_resize_as_the_size():
    text = "a cat\nSteps: 4, Seed: 1, Size: 640x448, Denoising strength: 0.5, Hires resize: 128x96"
    assert (paste_params(text)["Size-1"], paste_params(text)["Size-2"]) == ("640", "448")
    pasted = paste_params(text, PasteRules(final_size_sliders=True))
    assert (pasted["Size-1"], pasted["Size-2"]) == (128, 96)
    assert PasteRules.from_options({"infotext_styles": "Ignore", "use_old_hires_fix_width_height": True}) \
        .final_size_sliders
