"""Hires fix on the tiny models: sizes, infotext keys, latent and image upscalers, second-pass options, errors."""
import dataclasses
import types

import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.hires import plan_hires, upscale_latents
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from modules.upscalers.registry import LATENT_MODES
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=99)


def pixels(image):
    return np.asarray(image.convert("RGB")).astype(np.int16)


@pytest.fixture(params=["regular", "inpaint"])
def any_app(request, tmp_path, tiny_checkpoint, tiny_inpaint_checkpoint):
    checkpoint = tiny_checkpoint if request.param == "regular" else tiny_inpaint_checkpoint
    return make_app(tmp_path, checkpoint)


def test_hires_x2_gives_a_2x_image_and_the_hires_keys(any_app):
    job = Job()
    result = any_app.txt2img(GenerationRequest(**BASE, enable_hr=True, hr_scale=2, hr_second_pass_steps=2,
                                               denoising_strength=0.6), job)
    assert result.images[0].size == (128, 128)
    fields = parse_infotext(result.infotexts[0])
    assert (fields["Size-1"], fields["Size-2"]) == ("64", "64")
    assert fields["Denoising strength"] == "0.6" and fields["Hires upscale"] == "2"
    assert fields["Hires steps"] == "2" and fields["Hires upscaler"] == "Latent"
    text = result.infotexts[0]
    assert text.index("Denoising strength") < text.index("Hires upscale") < text.index("Hires steps") \
        < text.index("Hires upscaler")
    progress = job.progress()
    assert (progress.job_count, progress.job_no, progress.sampling_steps) == (2, 1, 2)


@pytest.mark.parametrize("upscaler", [*LATENT_MODES, "Lanczos", "Nearest", "None"])
def test_every_latent_mode_and_image_upscaler(app, upscaler):
    req = GenerationRequest(**BASE, enable_hr=True, hr_scale=1.5, hr_upscaler=upscaler, hr_second_pass_steps=1)
    result = app.txt2img(req)
    assert result.images[0].size == (96, 96)
    assert parse_infotext(result.infotexts[0])["Hires upscaler"] == upscaler


def test_resize_to_with_crop_and_second_pass_options(app):
    req = GenerationRequest(**{**BASE, "width": 64, "height": 128}, enable_hr=True, hr_resize_x=128,
                            hr_resize_y=128, hr_sampler_name="Euler a", hr_scheduler="Karras",
                            hr_prompt="a blue square", hr_negative_prompt="red", hr_second_pass_steps=2)
    result = app.txt2img(req)
    assert result.images[0].size == (128, 128)
    fields = parse_infotext(result.infotexts[0])
    assert fields["Hires resize-1"] == "128" and fields["Hires resize-2"] == "128"
    assert fields["Hires sampler"] == "Euler a" and fields["Hires schedule type"] == "Karras"
    assert fields["Hires prompt"] == "a blue square" and fields["Hires negative prompt"] == "red"
    assert "Hires upscale" not in fields


def test_hires_changes_the_image_and_old_firstphase_fields(app):
    plain = app.txt2img(GenerationRequest(**BASE, enable_hr=True, denoising_strength=0.0))
    redone = app.txt2img(GenerationRequest(**BASE, enable_hr=True, denoising_strength=0.7))
    assert plain.images[0].size == redone.images[0].size == (128, 128)
    assert not np.array_equal(pixels(plain.images[0]), pixels(redone.images[0]))
    old = app.txt2img(GenerationRequest(**{**BASE, "width": 128, "height": 128}, enable_hr=True,
                                        firstphase_width=64, firstphase_height=64, denoising_strength=0.7))
    assert old.images[0].size == (128, 128)
    assert np.array_equal(pixels(old.images[0]), pixels(redone.images[0]))


def test_bad_hires_fields_are_named(app):
    with pytest.raises(InvalidInput, match="hr_upscaler.*Latent \\(bicubic\\)"):
        app.txt2img(GenerationRequest(**BASE, enable_hr=True, hr_upscaler="Latent (magic)"))
    with pytest.raises(InvalidInput, match="denoising_strength"):
        plan_hires(GenerationRequest(**BASE, enable_hr=True, denoising_strength=2.0), None)
    with pytest.raises(InvalidInput, match="hr_scale"):
        plan_hires(GenerationRequest(**BASE, enable_hr=True, hr_scale=0.5), None)
    assert plan_hires(GenerationRequest(**BASE), None) is None


def test_second_pass_without_first_pass_output_is_a_clear_error():
    model = types.SimpleNamespace(vae_scale_factor=8)  # refused before the model is used
    latent = plan_hires(GenerationRequest(**BASE, enable_hr=True, hr_upscaler="Latent"), None)
    image = dataclasses.replace(latent, upscaler="Lanczos", latent_mode=None)  # an image upscaler's plan
    for upscaler, plan in (("Latent", latent), ("Lanczos", image)):
        with pytest.raises(ValueError, match=f"upscaler '{upscaler}' needs the first pass's latents"):
            upscale_latents(model, None, plan, None, exact=False)


def test_use_same_sampler_labels_mean_the_first_pass(app):
    req = GenerationRequest(**BASE, enable_hr=True, hr_second_pass_steps=1, hr_sampler_name="Use same sampler",
                            hr_scheduler="Use same scheduler")
    text = app.txt2img(req).infotexts[0]  # (parse_infotext fills these keys with the "Use same" defaults)
    assert "Hires sampler" not in text and "Hires schedule type" not in text


def test_hires_prompt_gets_the_request_styles(app):
    from modules.prompts.styles import PromptStyle, save_styles

    save_styles(app.paths.styles_csv, [PromptStyle("film", "film grain", "")])
    common = dict(enable_hr=True, hr_second_pass_steps=1, hr_scale=1.5)
    styled = app.txt2img(GenerationRequest(**BASE, **common, hr_prompt="a blue square", styles=("film",)))
    written = app.txt2img(GenerationRequest(**{**BASE, "prompt": "a red circle, film grain"}, **common,
                                            hr_prompt="a blue square, film grain"))
    assert np.array_equal(pixels(styled.images[0]), pixels(written.images[0]))


@pytest.mark.parametrize("upscaler", ["Latent", "Lanczos"])
def test_hires_on_the_builtin_models_reaches_the_target_size(builtin_app, upscaler):
    """The built-in VAE downsamples by 4 and its inpainting variant takes 9 channels: neither may assume 8 / 4."""
    req = GenerationRequest(**BASE, enable_hr=True, hr_scale=2, hr_upscaler=upscaler, hr_second_pass_steps=1)
    assert builtin_app.txt2img(req).images[0].size == (128, 128)


@pytest.mark.parametrize("upscaler", ["Latent", "Lanczos"])
def test_hires_crop_and_image_conditioning_on_9_channel_models(tmp_path, tiny_inpaint_checkpoint, upscaler):
    """Resize-to with both sides crops the latents; a mask weight below 1 builds the second pass's image
    conditioning from the upscaled first-pass image, which must have the cropped size too."""
    from tests.pipeline.conftest import builtin_checkpoint

    for checkpoint in (tiny_inpaint_checkpoint, builtin_checkpoint("easel-builtin-inpainting")):
        app = make_app(tmp_path / checkpoint.stem, checkpoint)
        req = GenerationRequest(**{**BASE, "height": 128}, enable_hr=True, hr_resize_x=128, hr_resize_y=128,
                                hr_upscaler=upscaler, hr_second_pass_steps=1,
                                override_settings={"inpainting_mask_weight": 0.5})
        assert app.txt2img(req).images[0].size == (128, 128)


def count_unet_calls(model) -> list[int]:
    calls = []
    forward = model.unet_forward

    def spy(x, t, context, concat=None):
        calls.append(x.shape[0])
        return forward(x, t, context, concat=concat)

    model.unet_forward = spy
    return calls


@pytest.mark.parametrize("upscaler", ["Latent", "Lanczos"])
def test_firstpass_image_replaces_the_first_pass(app, upscaler):
    """A1111's `firstpass_image`: no first-pass sampling; the second pass starts from the given picture."""
    calls = count_unet_calls(app.models.get(None))
    common = dict(enable_hr=True, hr_scale=2, hr_upscaler=upscaler, hr_second_pass_steps=2, denoising_strength=0.5)
    pictures = [Image.fromarray(np.full((64, 64, 3), c, dtype=np.uint8)) for c in ((200, 30, 30), (30, 30, 200))]
    results = [app.txt2img(GenerationRequest(**BASE, **common, firstpass_image=p)) for p in pictures]
    assert sum(calls) == 2 * 2 * 2  # UNet rows: two runs × two second-pass steps × (cond, uncond); no first pass
    assert all(r.images[0].size == (128, 128) for r in results)
    assert mean_difference(results[0].images[0], results[1].images[0]) > 1  # the picture matters
    again = app.txt2img(GenerationRequest(**BASE, **common, firstpass_image=pictures[0]))
    assert np.array_equal(pixels(again.images[0]), pixels(results[0].images[0]))


def test_firstpass_image_errors_are_named(app):
    picture = Image.new("RGB", (64, 64), (10, 200, 10))
    with pytest.raises(InvalidInput, match="firstpass_image.*enable_hr"):
        app.txt2img(GenerationRequest(**BASE, firstpass_image=picture))
    with pytest.raises(InvalidInput, match="firstpass_image"):
        app.txt2img(GenerationRequest(**BASE, enable_hr=True, firstpass_image="not an image!"))


def test_firstpass_image_on_the_builtin_models(builtin_app):
    picture = Image.new("RGB", (64, 64), (200, 30, 30))
    for upscaler in ("Latent", "Lanczos"):
        req = GenerationRequest(**BASE, enable_hr=True, hr_upscaler=upscaler, hr_second_pass_steps=1,
                                firstpass_image=picture, override_settings={"inpainting_mask_weight": 0.5})
        assert builtin_app.txt2img(req).images[0].size == (128, 128)


def mean_difference(a, b) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())
