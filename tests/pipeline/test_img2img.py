"""img2img on the tiny models: strength 0 and 1, step mapping, resize modes, noise multiplier, infotext, errors."""
import io

import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img import img2img_steps
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=1234)


def pixels(image):
    return np.asarray(image.convert("RGB")).astype(np.int16)


def noise_image(size=(64, 64), seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(params=["regular", "inpaint"])
def any_app(request, tmp_path, tiny_checkpoint, tiny_inpaint_checkpoint):
    checkpoint = tiny_checkpoint if request.param == "regular" else tiny_inpaint_checkpoint
    return make_app(tmp_path, checkpoint)


def test_step_mapping_follows_a1111():
    assert img2img_steps(20, 0.75, False) == (20, 15)
    assert img2img_steps(20, 0.3, True) == (66, 19)


def test_strength_zero_returns_the_input_unchanged(app):
    source = noise_image()
    result = app.img2img(Img2ImgRequest(**BASE, init_images=[source], denoising_strength=0.0))
    assert np.array_equal(pixels(result.images[0]), pixels(source))
    assert float(parse_infotext(result.infotexts[0])["Denoising strength"]) == 0


def test_strength_one_ignores_the_init_image_except_its_size(any_app):
    first = any_app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image(seed=1)], denoising_strength=1.0))
    second = any_app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image(seed=2)], denoising_strength=1.0))
    txt = any_app.txt2img(GenerationRequest(**BASE))
    assert np.array_equal(pixels(first.images[0]), pixels(second.images[0]))
    assert np.array_equal(pixels(first.images[0]), pixels(txt.images[0]))


def test_strength_between_keeps_the_init_image_in_play(any_app):
    a = any_app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image(seed=1)], denoising_strength=0.5))
    b = any_app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image(seed=2)], denoising_strength=0.5))
    assert not np.array_equal(pixels(a.images[0]), pixels(b.images[0]))
    again = any_app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image(seed=1)], denoising_strength=0.5))
    assert np.array_equal(pixels(a.images[0]), pixels(again.images[0]))


def test_infotext_saving_and_batches(app):
    req = Img2ImgRequest(**{**BASE, "batch_size": 2}, init_images=[noise_image((100, 50))], resize_mode=1,
                         denoising_strength=0.6, initial_noise_multiplier=0.9, save_images=True)
    result = app.img2img(req)
    assert [im.size for im in result.images] == [(64, 64), (64, 64)] and result.all_seeds == [1234, 1235]
    path = result.saved_paths[0]
    assert path.parent.parent.name == "img2img-images"
    fields = parse_infotext(Image.open(path).info["parameters"])
    assert fields["Denoising strength"] == "0.6" and fields["Noise multiplier"] == "0.9"
    assert result.info["denoising_strength"] == 0.6
    text = result.infotexts[0]
    assert text.index("Denoising strength") < text.index("Model:") or text.index("Seed:") < text.index("Denois")


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_every_resize_mode_gives_the_requested_size(app, mode):
    req = Img2ImgRequest(**{**BASE, "width": 96, "height": 64, "steps": 2}, init_images=[noise_image((40, 80))],
                         resize_mode=mode, denoising_strength=0.5)
    assert app.img2img(req).images[0].size == (96, 64)


def test_fix_steps_runs_exactly_the_requested_steps(app):
    job = Job()
    req = Img2ImgRequest(**BASE, init_images=[noise_image()], denoising_strength=0.3,
                         override_settings={"img2img_fix_steps": True})
    app.img2img(req, job)
    assert job.progress().sampling_steps == 4
    job = Job()
    app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image()], denoising_strength=0.5), job)
    assert job.progress().sampling_steps == 3  # int(0.5 * 4) + 1


def test_bad_inputs_are_named(app):
    with pytest.raises(InvalidInput, match="init_images"):
        app.img2img(Img2ImgRequest(**BASE))
    with pytest.raises(InvalidInput, match="init_images\\[0\\]"):
        app.img2img(Img2ImgRequest(**BASE, init_images=[b"not an image at all"]))
    with pytest.raises(InvalidInput, match="denoising_strength"):
        app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image()], denoising_strength=1.5))
    with pytest.raises(InvalidInput, match="too small for a latent"):
        app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image((1, 1))], resize_mode=3))


def test_one_pixel_image_and_base64_are_accepted(app):
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(buffer, format="PNG")
    import base64
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    result = app.img2img(Img2ImgRequest(**BASE, init_images=[data], denoising_strength=0.0))
    assert result.images[0].size == (64, 64) and result.images[0].getpixel((5, 5)) == (200, 10, 10)


def test_an_interrupted_job_stops_before_the_next_batch(app):
    job = Job()
    job.interrupt()
    result = app.img2img(Img2ImgRequest(**{**BASE, "n_iter": 2}, init_images=[noise_image()]), job)
    assert result.images == [] and result.interrupted


def test_every_sampler_runs_a_partial_schedule(app):
    source = noise_image()
    failures = {}
    for spec in app.services.samplers.samplers:
        req = Img2ImgRequest(**{**BASE, "steps": 3}, init_images=[source], denoising_strength=0.6,
                             sampler_name=spec.name)
        try:
            image = app.img2img(req).images[0]
            assert image.size == (64, 64) and np.isfinite(pixels(image)).all()
        except Exception as exc:  # collect, so one run names every sampler that fails
            failures[spec.name] = repr(exc)
    assert not failures


def test_styles_and_lora_tags_apply_to_img2img_too(app):
    from modules.prompts.styles import PromptStyle, save_styles
    from tests.fixtures.tiny_lora import lora_tensors, write_lora

    model = app.models.get(None)
    write_lora(app.services.loras.folder / "grain.safetensors", lora_tensors(model, seed=1, scale=0.5))
    save_styles(app.paths.styles_csv, [PromptStyle("film", "film grain", "cartoon")])
    common = dict(init_images=[noise_image()], denoising_strength=0.6)
    plain = app.img2img(Img2ImgRequest(**BASE, **common))
    styled = app.img2img(Img2ImgRequest(**BASE, **common, styles=("film",)))
    assert styled.all_prompts == ["a red circle, film grain"]
    lora = app.img2img(Img2ImgRequest(**{**BASE, "prompt": "a red circle <lora:grain:1>"}, **common))
    assert "Lora hashes" in lora.infotexts[0]
    assert not np.array_equal(pixels(plain.images[0]), pixels(lora.images[0]))
    again = app.img2img(Img2ImgRequest(**BASE, **common))  # weights restored after the LoRA run
    assert np.array_equal(pixels(plain.images[0]), pixels(again.images[0]))


class ZeroExtraNoise:
    """Run hooks that record the hook points and replace the extra noise with zeros (as an extension may)."""

    def __init__(self):
        self.points = []

    def call(self, point, ctx, **kwargs):
        self.points.append(point)
        if point == "extra_noise":
            assert kwargs["x"].shape == kwargs["xi"].shape == kwargs["noise"].value.shape
            kwargs["noise"].value = kwargs["noise"].value * 0

    def cfg_hooks(self, ctx):
        from modules.sampling.cfg_hooks import CFGHooks
        return CFGHooks()


def test_extra_noise_adds_noise_past_the_strength_and_hooks_see_it_first(app):
    from modules.pipeline.img2img_request import decoded as img2img_decoded

    source = noise_image()
    plain = app.img2img(Img2ImgRequest(**BASE, init_images=[source], denoising_strength=0.5))
    req = Img2ImgRequest(**BASE, init_images=[source], denoising_strength=0.5,
                         override_settings={"img2img_extra_noise": 0.4})
    extra = app.img2img(req)
    assert not np.array_equal(pixels(plain.images[0]), pixels(extra.images[0]))
    assert parse_infotext(extra.infotexts[0])["Extra noise"] == "0.4"
    assert "Extra noise" not in parse_infotext(plain.infotexts[0])
    hooks = ZeroExtraNoise()
    zeroed = app.run_core("img2img", img2img_decoded(req), app.options.snapshot(req.override_settings), Job(), hooks)
    assert np.array_equal(pixels(plain.images[0]), pixels(zeroed.images[0]))
    assert hooks.points.index("process_before_every_sampling") < hooks.points.index("extra_noise") \
        < hooks.points.index("post_sample")
