"""ControlNet units in Easel's passes: txt2img with CFG row groups, hires fix, img2img and inpainting, and the
errors a unit can cause."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.controlnet.units import ControlMode, ControlUnit, HiresOption, ResizeMode
from modules.errors import InvalidInput
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from tests.controlnet.test_controlnet_parity import control_image
from tests.fixtures.tiny_controlnet import make_tiny_controlnet
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("cn-pipeline"), tiny_checkpoint, "--precision", "full")
    make_tiny_controlnet(app.paths.models_dir / "ControlNet", "control_tiny")
    make_tiny_controlnet(app.paths.models_dir / "ControlNet", "control_wide", context_dim=64)
    return app


def unit(**fields) -> ControlUnit:
    base = dict(enabled=True, module="none", model="control_tiny", image=control_image(),
                resize_mode=ResizeMode.JUST_RESIZE)
    return ControlUnit(**{**base, **fields})


def txt2img(**fields) -> GenerationRequest:
    base = dict(prompt="a red square", negative_prompt="blue", steps=4, width=64, height=64, seed=3,
                sampler_name="Euler", cfg_scale=7.0)
    return GenerationRequest(**{**base, **fields})


def all_latents(app, req) -> torch.Tensor:
    """The final latents of every image of a txt2img run [B, 4, h, w] (exact batches decode one at a time)."""
    model = app.models.get(None)
    caught: list[torch.Tensor] = []
    decode = model.decode

    def catch(latents: torch.Tensor) -> torch.Tensor:
        caught.append(latents.clone())
        return decode(latents)

    model.decode = catch
    try:
        app.txt2img(req)
    finally:
        del model.decode
    return torch.cat(caught)


def test_another_familys_controlnet_stops_the_job_naming_unit_and_file(app):
    with pytest.raises(InvalidInput) as caught:
        app.txt2img(txt2img(controlnet_units=(unit(), unit(model="control_wide"))))
    message = str(caught.value)
    assert message.startswith("controlnet_units[1].model:") and "control_wide.pth" in message
    assert "another model family" in message


def test_row_groups_of_different_lengths_get_the_rows_own_hint_and_side(app):
    """A two-chunk prompt against a one-chunk negative runs cond and uncond rows in separate UNet calls; with
    "ControlNet is more important" only the cond rows may be steered. Each call's residuals must equal those of
    running every row alone (exact batches)."""
    long = ", ".join(["a red square on a plain background"] * 12)  # > 75 tokens: two chunks
    right = control_image().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    units = (unit(control_mode=ControlMode.CONTROL), unit(weight=0.5, image=right))
    req = txt2img(prompt=long, batch_size=2, controlnet_units=units)
    grouped = all_latents(app, req.replace(override_settings={"exact_batches": False}))
    alone = all_latents(app, req.replace(override_settings={"exact_batches": True}))
    plain = all_latents(app, req.replace(controlnet_units=(), override_settings={"exact_batches": True}))
    assert (alone - plain).abs().max() > 0.05
    torch.testing.assert_close(grouped, alone, atol=1e-3, rtol=0)


def test_hires_fix_feeds_the_second_pass_a_hint_at_its_size(app, hint_sizes):
    req = txt2img(enable_hr=True, hr_scale=2.0, denoising_strength=0.6, hr_second_pass_steps=2,
                  controlnet_units=(unit(),))
    app.txt2img(req)
    first = hint_sizes.count((64, 64))
    assert first and hint_sizes == [(64, 64)] * first + [(128, 128)] * (len(hint_sizes) - first)
    assert len(hint_sizes) > first
    hint_sizes.clear()
    app.txt2img(req.replace(controlnet_units=(unit(hr_option=HiresOption.LOW_RES_ONLY),)))
    assert set(hint_sizes) == {(64, 64)}


def test_img2img_and_inpainting_use_the_init_image_when_a_unit_has_none(app, hint_sizes):
    init = Image.fromarray(np.asarray(control_image())[::-1].copy())
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    base = dict(prompt="a red square", steps=4, width=64, height=64, seed=5, sampler_name="Euler",
                denoising_strength=0.8, init_images=(init,))
    plain = app.img2img(Img2ImgRequest(**base)).images[0]
    controlled = app.img2img(Img2ImgRequest(**base, controlnet_units=(unit(image=None),))).images[0]
    assert hint_sizes and set(hint_sizes) == {(64, 64)}
    assert np.abs(np.asarray(plain, float) - np.asarray(controlled, float)).max() > 10
    inpainted = app.img2img(Img2ImgRequest(**base, mask=mask, controlnet_units=(unit(image=None),))).images[0]
    outside = np.asarray(inpainted, float)[:8, :8] - np.asarray(init, float)[:8, :8]
    assert np.abs(outside).max() <= 3  # kept outside the mask, as without ControlNet


def test_inpaint_only_pastes_the_control_image_outside_its_mask(app):
    """txt2img with an inpaint_only unit: outside the (dilated, blurred) mask the result is the control image;
    in img2img with its own inpaint mask the unit falls back to inpaint_global_harmonious (no paste)."""
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    control = np.asarray(control_image(), float)
    inpaint = unit(module="inpaint_only", image=control_image(), mask=mask)
    plain = np.asarray(app.txt2img(txt2img()).images[0], float)
    pasted = np.asarray(app.txt2img(txt2img(controlnet_units=(inpaint,))).images[0], float)
    assert np.abs(pasted[:8, :8] - control[:8, :8]).max() <= 1 and np.abs(plain[:8] - control[:8]).max() > 30
    assert np.abs(pasted[28:36, 28:36] - control[28:36, 28:36]).max() > 30  # generated inside
    base = dict(prompt="a red square", steps=3, width=64, height=64, seed=5, sampler_name="Euler",
                denoising_strength=0.9, init_images=(Image.fromarray(np.uint8(255 - control)),), mask=mask)
    kept = np.asarray(app.img2img(Img2ImgRequest(**base, controlnet_units=(unit(module="inpaint_only", image=None),)))
                      .images[0], float)
    assert np.abs(kept[:8, :8] - (255 - control[:8, :8])).max() <= 3  # the init image, not a paste of the map
