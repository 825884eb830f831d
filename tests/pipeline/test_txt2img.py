"""txt2img on the tiny model: determinism, batch = single runs, saving, infotext, errors, interrupt."""
import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput, NotFound
from modules.imaging.infotext import parse_infotext
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=1234)


def pixels(image):
    return np.asarray(image.convert("RGB"))


def test_same_request_twice_gives_identical_png_bytes(app):
    req = GenerationRequest(**BASE, save_images=True)
    first, second = app.txt2img(req), app.txt2img(req)
    a, b = first.saved_paths[0], second.saved_paths[0]
    assert a != b and a.name.endswith("-1234.png") and a.parent.parent.name == "txt2img-images"
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("sampler", ["Euler", "Euler a", "DPM++ 2M"])
def test_batch_equals_single_runs(app, sampler):
    batch = app.txt2img(GenerationRequest(**BASE, sampler_name=sampler, batch_size=2))
    assert batch.all_seeds == [1234, 1235]
    for image, seed in zip(batch.images, (1234, 1235)):
        single = app.txt2img(GenerationRequest(**{**BASE, "seed": seed}, sampler_name=sampler))
        assert np.array_equal(pixels(image), pixels(single.images[0]))


def test_batch_count_continues_seeds_and_variation_keeps_seed(app):
    result = app.txt2img(GenerationRequest(**BASE, n_iter=2, batch_size=1))
    assert result.all_seeds == [1234, 1235] and len(result.images) == 2
    varied = app.txt2img(GenerationRequest(**BASE, subseed=7, subseed_strength=0.5, batch_size=2))
    assert varied.all_seeds == [1234, 1234] and varied.all_subseeds == [7, 8]
    assert not np.array_equal(pixels(varied.images[0]), pixels(varied.images[1]))
    fields = parse_infotext(varied.infotexts[1])
    assert fields["Variation seed"] == "8" and fields["Variation seed strength"] == "0.5"


def test_infotext_in_png_round_trips(app):
    req = GenerationRequest(**BASE, sampler_name="DPM++ 2M", cfg_scale=5.5, save_images=True,
                            override_settings={"CLIP_stop_at_last_layers": 2})
    result = app.txt2img(req)
    saved = Image.open(result.saved_paths[0])
    assert saved.info["parameters"] == result.infotexts[0]
    fields = parse_infotext(saved.info["parameters"])
    assert fields["Prompt"] == "a red circle" and fields["Negative prompt"] == "blue"
    assert (fields["Steps"], fields["Sampler"], fields["Schedule type"]) == ("4", "DPM++ 2M", "Karras")
    assert (fields["CFG scale"], fields["Seed"], fields["Size-1"], fields["Size-2"]) == ("5.5", "1234", "64", "64")
    assert fields["Clip skip"] == "2" and fields["Model"] == "tiny-sd1-0"
    assert app.options.get("CLIP_stop_at_last_layers") == 1  # the override did not leak


def test_clip_skip_and_cfg_one_change_the_image(app):
    plain = pixels(app.txt2img(GenerationRequest(**BASE)).images[0])
    skipped = app.txt2img(GenerationRequest(**BASE, override_settings={"CLIP_stop_at_last_layers": 2}))
    assert not np.array_equal(plain, pixels(skipped.images[0]))
    assert not np.array_equal(plain, pixels(app.txt2img(GenerationRequest(**{**BASE, "cfg_scale": 1.0})).images[0]))


def test_random_seed_is_reported(app):
    result = app.txt2img(GenerationRequest(**{**BASE, "seed": -1}))
    assert 0 <= result.all_seeds[0] < 2**32
    assert f"Seed: {result.all_seeds[0]}," in result.infotexts[0]


@pytest.mark.parametrize("changes, field", [
    ({"width": 100}, "width"), ({"steps": 0}, "steps"), ({"cfg_scale": 0.0}, "cfg_scale"),
    ({"batch_size": 0}, "batch_size"), ({"sampler_name": "Eular"}, "sampler_name"),
    ({"scheduler": "fancy"}, "scheduler"),
])
def test_bad_input_is_a_clear_error(app, changes, field):
    with pytest.raises(InvalidInput) as err:
        app.txt2img(GenerationRequest(**{**BASE, **changes}))
    assert err.value.field == field


def test_unknown_checkpoint_names_valid_ones(app):
    req = GenerationRequest(**BASE, override_settings={"sd_model_checkpoint": "nope.safetensors"})
    with pytest.raises(NotFound, match="nope.safetensors.*tiny-sd1-0"):
        app.txt2img(req)


def test_interrupt_stops_within_a_step_and_returns_partial(app):
    job = Job()
    seen = []
    original = job.on_step

    def on_step(step):
        seen.append(step)
        if step == 2:
            job.interrupt()
        original(step)

    job.on_step = on_step
    result = app.txt2img(GenerationRequest(**{**BASE, "steps": 10, "n_iter": 3}), job)
    assert seen == [1, 2] and result.interrupted and len(result.images) == 1


def test_progress_reports_steps(app):
    job = Job()
    steps = []
    original = job.on_step
    job.on_step = lambda step: (steps.append((job.progress().job_no, step)), original(step))
    app.txt2img(GenerationRequest(**{**BASE, "steps": 3, "n_iter": 2}), job)
    assert steps == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]


def test_live_preview_every_n_steps(app):
    job = Job()
    steps = []
    original = job.set_preview
    job.set_preview = lambda image, step: (steps.append((step, tuple(image.shape))), original(image, step))
    app.txt2img(GenerationRequest(**{**BASE, "steps": 6}, override_settings={"show_progress_every_n_steps": 2}), job)
    assert steps == [(2, (1, 4, 8, 8)), (4, (1, 4, 8, 8)), (6, (1, 4, 8, 8))]
    job = Job()
    app.txt2img(GenerationRequest(**BASE, override_settings={"live_previews_enable": False}), job)
    assert job.preview is None
