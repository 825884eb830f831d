"""An extension written as a typical A1111 author writes one (tests/fixtures/extensions/typical_author: Gradio 3
idioms, `modules.*` imports, a setting, a tab, API routes, a data file read through `scripts.basedir()`) loads
unchanged and works through the App, the page and the API (tiny model)."""
from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import FIXTURES, stop
from tests.pipeline.conftest import make_app

NAME = "sd-webui-simple-frame"
BASE = dict(prompt="a red circle", steps=3, width=64, height=64, seed=7, sampler_name="Euler")
RED, GREEN = (255, 0, 0), (0, 255, 0)


def start_app(tmp_path, tiny_checkpoint, *flags):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    shutil.copytree(FIXTURES / "typical_author", tmp_path / "data" / "extensions" / NAME)
    app = make_app(tmp_path / "data", tiny_checkpoint, *flags)
    assert [f for f in FAILURES.failures if f.extension == NAME] == []
    return app


@pytest.fixture
def app(tmp_path, tiny_checkpoint):
    app = start_app(tmp_path, tiny_checkpoint, "--nowebui")
    yield app
    app.jobs.close()
    stop(app)


def module(app):
    from modules.extensions.compat import scripts

    return next(d.module for d in scripts.scripts_data if d.path.endswith("simple_frame.py"))


def plain(app, **fields) -> list[np.ndarray]:
    """The images the core makes for these fields with no script at all."""
    result = app.run_core("txt2img", GenerationRequest(**{**BASE, **fields}), app.options.snapshot(), Job())
    return [np.asarray(i.convert("RGB")) for i in result.images]


def assert_framed(image, expected: np.ndarray, width: int, color) -> None:
    pixels = np.asarray(image.convert("RGB"))
    inner = (slice(width, -width), slice(width, -width))
    assert np.array_equal(pixels[inner], expected[inner])
    ring = np.ones(pixels.shape[:2], bool)
    ring[inner] = False
    assert (pixels[ring] == color).all()


def test_loads_unchanged_with_its_settings_scripts_and_data_file(app):
    assert {"Simple frame", "Frame width sweep"} <= set(app.scripts.all_titles())
    assert module(app).PRESETS == {"thin": 1, "classic": 3, "bold": 6}  # presets.txt via scripts.basedir()
    row = app.options.table["simple_frame_color"]
    assert (row.section, row.default, row.label) == ("Simple frame", "#ff0000", "Frame colour")
    assert app.options.table["simple_frame_max_width"].maximum == 64


def test_always_on_script_frames_images_writes_infotext_and_saves_the_unframed_ones(app):
    expected = plain(app, batch_size=2)
    result = app.txt2img(GenerationRequest(**BASE, batch_size=2, save_images=True, alwayson_scripts={
        "Simple frame": {"args": [True, "classic", 3, True]}}))
    for image, want in zip(result.images, expected):
        assert_framed(image, want, 3, RED)
    assert "Frame: classic, Frame width: 3, Frame color: #ff0000" in result.infotexts[0]
    unframed = sorted(app.paths.data_dir.glob("outputs/txt2img-images/**/*-unframed.png"))
    assert len(unframed) == 2 and len(result.saved_paths) == 2
    with Image.open(unframed[0]) as saved:
        assert np.array_equal(np.asarray(saved.convert("RGB")), expected[0])
        assert "Frame width: 3" in saved.info["parameters"] and "Seed: 7" in saved.info["parameters"]
    off = app.txt2img(GenerationRequest(**BASE, alwayson_scripts={"Simple frame": {"args": [False, "bold", 6,
                                                                                            False]}}))
    assert np.array_equal(np.asarray(off.images[0].convert("RGB")), expected[0]) and "Frame" not in off.infotexts[0]


def test_selectable_script_runs_process_images_once_per_width(app):
    expected = plain(app)
    result = app.txt2img(GenerationRequest(**BASE, script_name="Frame width sweep", script_args=("1, 4",)))
    assert len(result.images) == 2
    assert_framed(result.images[0], expected[0], 1, RED)
    assert_framed(result.images[1], expected[0], 4, RED)
    assert "Frame width: 1" in result.infotexts[0] and "Frame width: 4" in result.infotexts[1]
    assert module(app).SWEEP_LOG[-1] == ("job_count", 2)  # shared.state.job_count reads back what it set


def test_setting_route_and_scripts_through_the_api_and_the_page(tmp_path, tiny_checkpoint):
    import webui

    app = start_app(tmp_path, tiny_checkpoint)
    try:
        with TestClient(webui.create_server(app), raise_server_exceptions=False) as client:
            assert client.get("/simple-frame/presets").json() == {
                "presets": {"thin": 1, "classic": 3, "bold": 6}, "color": "#ff0000"}
            assert client.post("/sdapi/v1/options", json={"simple_frame_color": "#00ff00"}).status_code == 200
            assert client.get("/sdapi/v1/options").json()["simple_frame_color"] == "#00ff00"
            assert json.loads(app.paths.config_json.read_text())["simple_frame_color"] == "#00ff00"

            expected = plain(app)
            r = client.post("/sdapi/v1/txt2img", json={**BASE, "alwayson_scripts": {
                "Simple frame": {"args": [True, "bold", 6, False]}}})
            assert r.status_code == 200
            assert_framed(decode(r.json()["images"][0]), expected[0], 6, GREEN)
            assert "Frame width: 6, Frame color: #00ff00" in json.loads(r.json()["info"])["infotexts"][0]

            r = client.post("/simple-frame/framed", json={"prompt": BASE["prompt"], "seed": 7, "frame_width": 2})
            assert r.status_code == 200 and "Seed: 7" in r.json()["info"] and r.json()["seed"] == 7
            assert_framed(decode(r.json()["image"]), expected[0], 2, GREEN)

            r = client.post("/sdapi/v1/txt2img", json={**BASE, "script_name": "frame width sweep",
                                                        "script_args": ["2"]})
            assert r.status_code == 200 and len(r.json()["images"]) == 1
            info = {row["name"]: row for row in client.get("/sdapi/v1/script-info").json() if not row["is_img2img"]}
            assert [a["label"] for a in info["simple frame"]["args"]] == [
                "Simple frame", "Preset", "Frame width", "Also save the image without its frame"]
            page = client.get("/config").json()
            assert_page_has_the_extension(app, page)
    finally:
        app.jobs.close()
        stop(app)


def assert_page_has_the_extension(app, page: dict) -> None:
    """Its panel, tab and Gradio 3 event idioms made it into the page (and its handlers answer)."""
    labels = {c.get("props", {}).get("label") for c in page["components"]}
    ids = {c.get("props", {}).get("elem_id") for c in page["components"]}
    assert {"Simple frame", "Frame width", "Colour"} <= labels
    assert {"script_txt2img_simple_frame_width", "script_img2img_simple_frame_width", "simple_frame_color_box",
            "tab_simple_frame"} <= ids
    tabs = next(c["props"] for c in page["components"] if c.get("props", {}).get("elem_id") == "tabs")
    # the page mounts every tab at load (javascript/easel.js): A1111 scripts look the extension's tab up then
    assert "easel-everything-at-load" in (tabs.get("elem_classes") or [])
    assert any(d.get("js") and "simpleFrameRefresh" in d["js"] for d in page["dependencies"])
    fns = {getattr(f.fn, "__name__", ""): f.fn for f in app_blocks(app).fns.values() if f.fn is not None}
    slider, checkbox = fns["on_preset"]("bold")  # gr.Slider.update / gr.Checkbox.update under the shim
    assert slider["value"] == 6 and checkbox["interactive"] is True
    assert fns["make_swatch"]("#00ff00").getpixel((3, 3)) == GREEN


def app_blocks(app):
    from modules.extensions.compat import shared

    return shared.demo


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image
