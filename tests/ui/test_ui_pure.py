"""The UI's pure parts, without a browser: paste mapping, request building, masks, outpaint canvas, progress."""
from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from PIL import Image

from modules.errors import EaselError, InvalidInput
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from modules.sampling.registry import SamplerRegistry
from modules.imaging.infotext import parse_infotext
from modules.ui.image_inputs import (editor_image_and_mask, mask_from_layers, outpaint_canvas, preview_canvas,
                                     uploaded_mask)
from modules.ui.paste import fields_from_params, registry_sampler_resolver
from modules.ui.progress import WaitLine, latent_preview, preview_image, progress_html, run_with_progress
from modules.ui.requests import build_request

A1111 = ("castle\nNegative prompt: fog\nSteps: 27, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 987654321, "
         "Size: 320x448, Variation seed: 5, Variation seed strength: 0.3, Clip skip: 2, Version: v1.10.1")


def test_paste_splits_old_combined_sampler_names_and_types_values():
    values = fields_from_params(parse_infotext(A1111), registry_sampler_resolver(SamplerRegistry()))
    assert values["sampler_name"] == "DPM++ 2M" and values["scheduler"] == "Karras"
    assert (values["steps"], values["cfg_scale"], values["seed"]) == (27, 6.5, 987654321)
    assert (values["width"], values["height"]) == (320, 448)
    assert (values["subseed"], values["subseed_strength"]) == (5, 0.3)
    assert values["CLIP_stop_at_last_layers"] == 2
    assert values["prompt"] == "castle" and values["negative_prompt"] == "fog"


def test_paste_keeps_an_unknown_sampler_name_for_the_user_to_see():
    values = fields_from_params({"Sampler": "Mystery 9000"}, registry_sampler_resolver(SamplerRegistry()))
    assert values == {"sampler_name": "Mystery 9000"}


def test_build_request_converts_slider_floats_and_drops_unknown_fields():
    request = build_request(GenerationRequest, {"steps": 20.0, "width": 512.0, "cfg_scale": 7, "seed": -1.0,
                                                "seed_extras": False, "subseed": 9, "script_name": "None"},
                            save_images=True)
    assert (request.steps, request.width, request.cfg_scale, request.seed) == (20, 512, 7.0, -1)
    assert request.subseed == -1 and request.subseed_strength == 0.0 and request.save_images


@dataclasses.dataclass(frozen=True)
class OldRequest:
    """A request type from before hires fix existed."""

    steps: int = 20


def test_build_request_refuses_a_feature_the_pipeline_lacks_instead_of_ignoring_it():
    with pytest.raises(EaselError, match="Hires"):
        build_request(OldRequest, {"enable_hr": True})
    assert build_request(OldRequest, {"enable_hr": False, "steps": 9.0}).steps == 9
    assert build_request(GenerationRequest, {"enable_hr": True, "hr_scale": 1.5}).hr_scale == 1.5


def test_build_request_for_img2img_keeps_inpaint_fields():
    init = Image.new("RGB", (64, 64))
    request = build_request(Img2ImgRequest, {"mask_blur": 6.0, "inpainting_fill": 1, "inpaint_full_res": False,
                                             "denoising_strength": 0.4}, init_images=(init,))
    assert (request.mask_blur_x, request.inpainting_fill, request.inpaint_full_res) == (6, 1, False)
    assert request.denoising_strength == 0.4 and request.init_images == (init,)


def test_mask_comes_from_layer_alpha_not_from_the_composite():
    background = Image.new("RGB", (8, 8), "white")
    layer = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    layer.putpixel((2, 3), (255, 255, 255, 255))  # white paint on a white picture: invisible in the composite
    image, mask = editor_image_and_mask({"background": background, "layers": [layer], "composite": background},
                                        "inpaint")
    assert image.mode == "RGB" and mask.getpixel((2, 3)) == 255 and mask.getbbox() == (2, 3, 3, 4)


def test_mask_layers_of_another_size_are_scaled_to_the_picture():
    layer = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    layer.putpixel((0, 0), (1, 1, 1, 255))
    assert mask_from_layers([layer], (8, 8)).getbbox() == (0, 0, 2, 2)


@pytest.mark.parametrize("value,problem", [(None, "no image uploaded"),
                                           ({"background": Image.new("RGB", (4, 4)), "layers": []}, "nothing painted")])
def test_inpaint_without_image_or_paint_names_the_problem(value, problem):
    with pytest.raises(InvalidInput, match=problem):
        editor_image_and_mask(value, "inpaint")


def test_uploaded_mask_uses_alpha_and_fits_the_picture():
    mask = Image.new("RGBA", (4, 4), (255, 255, 255, 0))
    mask.putpixel((1, 1), (255, 255, 255, 255))
    out = uploaded_mask(mask, (4, 4))
    assert out.mode == "L" and out.getpixel((1, 1)) == 255 and out.getpixel((0, 0)) == 0
    assert uploaded_mask(Image.new("L", (2, 2), 255), (8, 8)).size == (8, 8)


def test_outpaint_canvas_in_every_direction():
    image = Image.new("RGB", (64, 32), (10, 200, 30))
    canvas, mask = outpaint_canvas(image, ["left", "up"], 16, overlap=4)
    assert canvas.size == (80, 48) and mask.size == (80, 48)
    assert canvas.getpixel((0, 0)) == (10, 200, 30)  # stretched edge
    assert mask.getpixel((5, 30)) == 255 and mask.getpixel((19, 30)) == 255 and mask.getpixel((21, 30)) == 0
    assert mask.getpixel((79, 47)) == 0
    assert preview_canvas(canvas, mask).size == canvas.size


@pytest.mark.parametrize("directions,pixels", [([], 64), (["right"], 60), (["sideways"], 64)])
def test_outpaint_canvas_refuses_bad_choices(directions, pixels):
    with pytest.raises(InvalidInput):
        outpaint_canvas(Image.new("RGB", (8, 8)), directions, pixels)


def test_progress_bar_and_latent_preview():
    bar = progress_html(0.5, 10.0, step=(10, 20))
    assert "ETA: 00:10" in bar and "data-step='10'" in bar
    assert latent_preview(torch.zeros(2, 4, 8, 16)).size == (16, 8)
    assert preview_image(torch.zeros(1, 3, 8, 8)) is None and preview_image(None) is None


class FakeJob:
    id = "0123456789"

    def progress(self):
        from modules.pipeline.job import Progress

        return Progress(0, 1, 3, 10, 0.3, 2.0, "", False, False)


def test_run_with_progress_reports_waiting_then_running_then_returns():
    line, job, release, running = WaitLine(), FakeJob(), threading.Event(), {"now": False}
    other = object()
    line.enter(other)  # someone else's job holds the worker

    def work():
        release.wait(5)
        return "result"

    runner = run_with_progress(work, job, line, lambda: running["now"], poll=0.01)
    bar, _ = next(runner)
    assert "In queue: 2/2" in bar
    line.leave(other)
    running["now"] = True
    bar, _ = next(runner)
    assert "30%" in bar
    release.set()
    with pytest.raises(StopIteration) as stop:
        while True:
            next(runner)
    assert stop.value.value == "result" and line.position(job) == (0, 0)


def test_run_with_progress_raises_the_work_error():
    def work():
        raise InvalidInput("steps", "too many")

    with pytest.raises(InvalidInput, match="too many"):
        list(run_with_progress(work, FakeJob(), WaitLine(), lambda: True, poll=0.01))


def test_img2img_modes_pick_image_and_mask(tmp_path):
    from modules.ui.img2img_tab import batch_files, init_and_mask

    picture = Image.new("RGB", (8, 8), "red")
    assert init_and_mask("img2img", picture, None, None, None, None) == (picture, None)
    sketch = {"background": picture, "layers": [], "composite": Image.new("RGB", (8, 8), "blue")}
    assert init_and_mask("sketch", None, sketch, None, None, None)[0].getpixel((0, 0)) == (0, 0, 255)
    image, mask = init_and_mask("inpaint_upload", None, None, None, picture, Image.new("L", (4, 4), 255))
    assert image is picture and mask.size == (8, 8)
    with pytest.raises(InvalidInput, match="no image uploaded"):
        init_and_mask("img2img", None, None, None, None, None)
    with pytest.raises(InvalidInput, match="mode"):
        init_and_mask("collage", picture, None, None, None, None)
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in batch_files(str(tmp_path))] == ["a.jpg", "b.png"]
    with pytest.raises(InvalidInput, match="input directory"):
        batch_files(str(tmp_path / "missing"))


class FakeApp:
    """Just enough App for stream_job: options, the current job, no queue."""

    def __init__(self, previews: bool):
        from modules.options import Options

        self.options = Options(None)
        self.options.set("live_previews_enable", previews)
        self.current_job = None


@pytest.mark.parametrize("previews", [True, False])
def test_stream_job_shows_the_live_preview_then_the_result(previews):
    import time

    from modules.pipeline.result import GenerationResult
    from modules.ui.context import UiConfig, UiContext
    from modules.ui.results import stream_job

    app = FakeApp(previews)
    ctx = UiContext(app=app, ui_config=UiConfig(None))
    final = Image.new("RGB", (8, 8), "white")

    def work(job):
        app.current_job = job
        job.begin_pass(0, 10)
        job.on_step(3)
        job.set_preview(torch.zeros(1, 4, 8, 8), 3)
        time.sleep(1.0)
        return GenerationResult(images=[final], infotexts=["a cat\nSteps: 10"], all_prompts=["a cat"],
                                all_negative_prompts=[""], all_seeds=[1], all_subseeds=[1], info={"all_seeds": [1]})

    updates = list(stream_job(ctx, work, 1, None))
    shown = [u[0] for u in updates[:-1] if isinstance(u[0], dict) and "value" in u[0]]
    assert bool(shown) == previews
    gallery, bar, info, state, log = updates[-1]
    assert gallery[0][0] is final and final.info["parameters"] == "a cat\nSteps: 10"
    assert "Steps: 10" in info and state["selected"] == 0 and "Time taken:" in log
    assert any("30%" in u[1] for u in updates[:-1])
