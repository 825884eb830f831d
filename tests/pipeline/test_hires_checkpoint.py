"""A1111's "Hires checkpoint" (`hr_checkpoint_name`) on two tiny SD 1.x models: the second pass encodes, samples
and decodes with the other model, the infotext names it and pastes back, "Use same checkpoint" changes nothing,
and an unknown name is refused naming the field."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.pipeline.request import GenerationRequest
from tests.fixtures.tiny_model import make_tiny_checkpoint
from tests.pipeline.conftest import make_app

MAIN, OTHER = "tiny-sd1-0", "tiny-hires"
BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=7,
            sampler_name="Euler", enable_hr=True, hr_scale=1.5, denoising_strength=0.6, hr_second_pass_steps=2,
            override_settings={"sd_model_checkpoint": MAIN})


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    folder = tmp_path_factory.mktemp("hires-checkpoint")
    other = make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-hires"), seed=1, name=OTHER)
    app = make_app(folder, tiny_checkpoint)
    for file in other.parent.glob(OTHER + ".*"):
        shutil.copy(file, folder / "models" / "Stable-diffusion" / file.name)
    yield app
    app.jobs.close()


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0], dtype=np.int16)


def spy(model, name: str, calls: list) -> None:
    """Count calls of the engine's `name` (UNet calls, decodes) under the model's checkpoint name."""
    original = getattr(model.engine, name)

    def counted(*args, **kwargs):
        calls.append(model.checkpoint.name)
        return original(*args, **kwargs)

    setattr(model.engine, name, counted)


def test_the_second_pass_runs_on_the_other_checkpoint(app):
    plain = app.txt2img(GenerationRequest(**BASE))
    main, other = app.models.get(MAIN), app.models.refiner(OTHER)  # the hires model is held beside the main one
    unet_calls, decodes = [], []
    for model in (main, other):
        spy(model, "unet_forward", unet_calls)
        spy(model, "decode", decodes)
    try:
        result = app.txt2img(GenerationRequest(**BASE, hr_checkpoint_name=OTHER))
    finally:
        for model in (main, other):
            del model.engine.unet_forward, model.engine.decode
    main_name, other_name = main.checkpoint.name, other.checkpoint.name
    assert set(unet_calls[:3]) == {main_name} and set(unet_calls[3:]) == {other_name} and len(unet_calls) > 3
    assert decodes == [other_name]  # the picture comes from the hires model's VAE (the latent upscaler: no decode)
    assert f"Hires checkpoint: {OTHER} [" in result.infotexts[0]
    assert not np.array_equal(pixels(plain), pixels(result))


def test_use_same_checkpoint_is_the_plain_run(app):
    plain = app.txt2img(GenerationRequest(**BASE))
    same = app.txt2img(GenerationRequest(**BASE, hr_checkpoint_name="Use same checkpoint"))
    assert np.array_equal(pixels(plain), pixels(same)) and "Hires checkpoint" not in same.infotexts[0]


def test_the_infotext_pastes_back_to_the_same_picture(app):
    first = app.txt2img(GenerationRequest(**BASE, hr_checkpoint_name=OTHER))
    fields = {"hr_checkpoint_name", "prompt", "negative_prompt", "steps", "seed", "width", "height", "sampler_name",
              "denoising_strength", "hr_scale", "hr_second_pass_steps", "enable_hr"}
    data = fill_from_infotext({"override_settings": {"sd_model_checkpoint": MAIN}}, {"override_settings"},
                              first.infotexts[0], fields)
    assert data["hr_checkpoint_name"].startswith(f"{OTHER} [")
    again = app.txt2img(GenerationRequest(**{k: v for k, v in data.items() if k in fields or k == "override_settings"}))
    assert np.array_equal(pixels(first), pixels(again))


def test_an_unknown_checkpoint_is_refused_naming_the_field(app):
    with pytest.raises(InvalidInput, match="hr_checkpoint_name"):
        app.txt2img(GenerationRequest(**BASE, hr_checkpoint_name="nowhere.safetensors"))


def test_the_prompts_loras_patch_the_hires_model_for_its_pass_and_leave_both_clean(app):
    """A1111 patches whatever model runs: the second pass's model carries the batch's LoRAs while it samples; after
    the job every weight of both models is its file's again."""
    import torch

    from tests.fixtures.tiny_lora import lora_tensors, write_lora

    main, other = app.models.get(MAIN), app.models.refiner(OTHER)
    write_lora(app.services.loras.folder / "grain.safetensors", lora_tensors(main, seed=1, scale=0.5))

    def weights(model) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in model.unet.state_dict().items()}

    main_before, other_before = weights(main), weights(other)
    changed_during_pass: list[bool] = []
    forward = other.engine.unet_forward

    def watched(*args, **kwargs):
        now = other.unet.state_dict()
        changed_during_pass.append(any(not torch.equal(now[k], v) for k, v in other_before.items()))
        return forward(*args, **kwargs)

    other.engine.unet_forward = watched
    try:
        result = app.txt2img(GenerationRequest(**{**BASE, "prompt": "a red circle <lora:grain:1>"},
                                               hr_checkpoint_name=OTHER))
    finally:
        del other.engine.unet_forward
    assert changed_during_pass and all(changed_during_pass)
    assert "Lora hashes" in result.infotexts[0]
    for model, before in ((main, main_before), (other, other_before)):
        now = weights(model)
        assert [k for k, v in before.items() if not torch.equal(now[k], v)] == []
