"""An extension that raises in every hook, callback and ui(), with a file that does not parse and one that needs a
missing module: Easel starts, generates the images it would without it, and reports each failure once, naming the
extension, in the Extensions tab's problem column (App and API, tiny model)."""
from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.extras import ExtrasRequest
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import FIXTURES, stop
from tests.pipeline.conftest import make_app

NAME = "raise_everywhere"
BASE = dict(prompt="a red circle", steps=3, width=64, height=64, seed=7)
RE = "Raise everywhere"
LOADING = {"import scripts/broken_syntax.py", "import scripts/missing_module.py", "FailsToConstruct.__init__",
           "Fails to show.show", "on_ui_settings"}
RUNNING = {f"{RE}.{hook}" for hook in (
    "setup", "before_process", "process", "before_process_batch", "after_extra_networks_activate", "process_batch",
    "process_before_every_sampling", "post_sample", "postprocess_batch", "postprocess_batch_list",
    "postprocess_image", "postprocess_maskoverlay", "postprocess")} | {
    f"{RE}.ui", "on_model_loaded", "on_cfg_denoiser", "on_cfg_denoised", "on_cfg_after_cfg", "on_before_image_saved",
    "on_image_saved", "Raise selectable.run", "Raise in extras.ui", "Raise in extras.process_firstpass",
    "Raise in extras.process"}
PAGE = {"on_before_ui", "on_ui_tabs", "on_before_component", "on_after_component", f"{RE}.before_component",
        f"{RE}.after_component", f"{RE}.on_before_component", f"{RE}.on_after_component",
        "Raise in extras.image_changed"}


def start_app(tmp_path, tiny_checkpoint, *flags):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    shutil.copytree(FIXTURES / NAME, tmp_path / "data" / "extensions" / NAME)
    return make_app(tmp_path / "data", tiny_checkpoint, *flags)  # webui.build_app: the real start-up


@pytest.fixture
def raising_app(tmp_path, tiny_checkpoint):
    app = start_app(tmp_path, tiny_checkpoint)
    yield app
    app.jobs.close()
    stop(app)


def core_images(app, kind, request) -> list[np.ndarray]:
    """What the core makes for `request` without any script or callback (the images a correct run returns)."""
    result = app.run_core(kind, request, app.options.snapshot(), Job())
    return [np.asarray(image) for image in result.images]


def reported(app) -> dict[str, int]:
    """(hook → times it failed) for the extension; asserts each failure was recorded (and shown) only once."""
    from modules.extensions.compat.reporting import FAILURES

    keys = [(f.extension, f.hook) for f in FAILURES.failures]
    assert len(keys) == len(set(keys))
    assert {extension for extension, _ in keys} == {NAME}
    assert all(NAME in f.trace or f.hook.startswith("import") or "raise_everywhere" in f.error
               for f in FAILURES.failures)
    return {hook: FAILURES.counts[(ext, hook)] for ext, hook in keys}


def problem_lines(app) -> list[str]:
    problem = app.extensions.get(NAME).problem or ""
    lines = problem.splitlines()
    assert len(lines) == len(set(lines))
    return lines


def test_start_up_generations_and_extras_complete_and_each_failure_is_reported_once(raising_app):
    from modules.ui.layout import build_ui

    app = raising_app
    assert {"Raise everywhere", "Raise selectable"} <= set(app.scripts.all_titles())
    build_ui(app)  # ui(), before/after_component, on_ui_tabs, on_before_ui fail; the page is built
    txt = GenerationRequest(**BASE, n_iter=2, save_images=True)
    expected = core_images(app, "txt2img", txt)
    for _ in range(2):
        result = app.txt2img(txt)
        assert [np.array_equal(np.asarray(a), b) for a, b in zip(result.images, expected)] == [True, True]
        assert len(result.saved_paths) == 2 and "Steps: 3" in result.infotexts[0]
    init = Image.new("RGB", (64, 64), (30, 120, 200))
    img = Img2ImgRequest(**BASE, init_images=(init,), denoising_strength=0.5)
    expected = core_images(app, "img2img", img)
    result = app.img2img(img)
    assert np.array_equal(np.asarray(result.images[0]), expected[0])
    extras = app.extras(ExtrasRequest(images=(init,), upscaler_1="Lanczos", upscaling_resize=2))
    assert extras.images[0].size == (128, 128) and extras.images[0].getpixel((9, 9)) == (30, 120, 200)
    app.scripts.extras_image_changed()
    from modules.extensions.compat.host import ScriptFailed

    with pytest.raises(ScriptFailed, match=f"'Raise selectable' of extension {NAME} failed"):
        app.txt2img(GenerationRequest(**BASE, script_name="Raise selectable"))
    assert app.txt2img(GenerationRequest(**BASE)).images  # the next job runs

    counts = reported(app)
    assert set(counts) >= LOADING | RUNNING | PAGE, sorted(LOADING | RUNNING | PAGE - set(counts))
    assert counts[f"{RE}.process_batch"] >= 5 and counts["on_cfg_denoiser"] >= 5 * 3  # once shown, then counted
    lines = problem_lines(app)
    for hook in LOADING | RUNNING | PAGE:
        assert sum(line.startswith(f"{hook}: ") for line in lines) == 1, hook
    assert any("SyntaxError" in line for line in lines)
    assert any("easel_test_no_such_module" in line for line in lines)


def test_api_answers_with_correct_images_and_names_the_extension(tmp_path, tiny_checkpoint):
    import webui

    app = start_app(tmp_path, tiny_checkpoint, "--nowebui")
    try:
        expected = core_images(app, "txt2img", GenerationRequest(**BASE, sampler_name="Euler"))
        with TestClient(webui.create_server(app), raise_server_exceptions=False) as client:
            payload = {**BASE, "sampler_name": "Euler", "save_images": True}
            for _ in range(2):
                r = client.post("/sdapi/v1/txt2img", json=payload)
                assert r.status_code == 200
                image = Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0])))
                assert np.array_equal(np.asarray(image.convert("RGB")), expected[0])
            init = io.BytesIO()
            Image.new("RGB", (64, 64), (30, 120, 200)).save(init, format="PNG")
            r = client.post("/sdapi/v1/img2img", json={**payload, "denoising_strength": 0.5,
                                                        "init_images": [base64.b64encode(init.getvalue()).decode()]})
            assert r.status_code == 200 and len(r.json()["images"]) == 1
            r = client.post("/sdapi/v1/txt2img", json={**payload, "script_name": "Raise selectable"})
            assert r.status_code == 500 and NAME in r.text and "run fails" in r.text
            assert "raise selectable" in client.get("/sdapi/v1/scripts").json()["txt2img"]  # A1111: lower case
        counts = reported(app)
        assert {"on_app_started", *LOADING, *(RUNNING - {h for h in RUNNING if "extras" in h})} <= set(counts)
        assert counts[f"{RE}.process"] == 3 and counts["on_app_started"] == 1
        lines = problem_lines(app)
        assert any(line.startswith("on_app_started: Boom: raise_everywhere fails in app_started") for line in lines)
    finally:
        app.jobs.close()
        stop(app)
