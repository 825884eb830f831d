"""Extras tab postprocessing scripts (A1111's ScriptPostprocessing): after Easel's upscaling, with the tab's values,
through the App, the page's Generate handler and the API (no model needed: the Lanczos upscaler)."""
from __future__ import annotations

import base64
import io
import textwrap

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modules.pipeline.extras import ExtrasRequest
from tests.extensions.conftest import stop
from tests.pipeline.conftest import make_app

EXTENSION = '''
import gradio as gr
from PIL import ImageOps

from modules import scripts_postprocessing, shared
from modules.ui_components import InputAccordion

CALLS = []


class ScriptPostprocessingInvert(scripts_postprocessing.ScriptPostprocessing):
    name = "Invert"
    order = 5000

    def ui(self):
        with InputAccordion(False, label="Invert") as enable:
            strength = gr.Slider(minimum=0.0, maximum=1.0, step=0.1, label="Strength", value=1.0)
            keep_copy = gr.Checkbox(False, label="Keep the original too")
        return {"enable": enable, "strength": strength, "keep_copy": keep_copy}

    def process_firstpass(self, pp, enable, strength, keep_copy):
        CALLS.append(("firstpass", enable, pp.shared.target_width))

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable, strength, keep_copy):
        CALLS.append(("process", enable, strength, keep_copy))
        if not enable:
            return
        if keep_copy:
            pp.extra_images.append(pp.create_copy(pp.image.copy(), nametags=["original"]))
        pp.image = ImageOps.invert(pp.image.convert("RGB"))
        pp.info["Invert"] = strength
        pp.caption = "inverted"

    def image_changed(self):
        CALLS.append(("image_changed",))


class ScriptPostprocessingLabel(scripts_postprocessing.ScriptPostprocessing):
    name = "Label"
    order = 6000  # after Invert: sees the image Invert made and the copy it kept

    def process(self, pp):
        CALLS.append(("label", pp.image.getpixel((0, 0))))
        pp.info["Labelled"] = "yes"
'''

RED = (200, 30, 10)
INVERTED = (55, 225, 245)


@pytest.fixture
def app(tmp_path, tiny_checkpoint):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    folder = tmp_path / "data" / "extensions" / "pp-invert" / "scripts"
    folder.mkdir(parents=True)
    (folder / "invert.py").write_text(textwrap.dedent(EXTENSION))
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    yield app
    app.jobs.close()
    stop(app)


def calls(app) -> list:
    from modules.extensions.compat import scripts

    data = next(d for d in scripts.postprocessing_scripts_data if d.path.endswith("invert.py"))
    return data.module.CALLS


def test_enabled_script_changes_the_upscaled_image_adds_an_image_infotext_and_a_caption(app):
    calls(app).clear()
    request = ExtrasRequest(images=(Image.new("RGB", (8, 6), RED),), upscaler_1="Lanczos", upscaling_resize=2,
                            save_images=True,
                            script_args={"Invert": {"enable": True, "strength": 0.5, "keep_copy": True}})
    result = app.extras(request)
    assert [i.size for i in result.images] == [(16, 12), (16, 12)]
    assert result.images[0].getpixel((3, 3)) == INVERTED and result.images[1].getpixel((3, 3)) == RED
    assert result.infotexts[0] == ("Postprocess upscale by: 2, Postprocess upscaler: Lanczos, Invert: 0.5, "
                                   "Labelled: yes")
    assert "Invert" not in result.infotexts[1] and "Labelled: yes" in result.infotexts[1]
    assert result.images[0].info["postprocessing"] == result.infotexts[0]
    assert calls(app) == [("firstpass", True, 16), ("process", True, 0.5, True), ("label", INVERTED),
                          ("label", RED)]
    main, copy = result.saved_paths
    assert copy.name.endswith("-original.png") and "--" not in copy.name and main.stem.isdigit()
    assert main.with_suffix(".txt").read_text() == "inverted"
    with Image.open(main) as saved:
        assert saved.info["postprocessing"] == result.infotexts[0]


def test_disabled_script_leaves_the_image_and_other_scripts_still_run(app):
    calls(app).clear()
    result = app.extras(ExtrasRequest(images=(Image.new("RGB", (8, 6), RED),), upscaler_1="None",
                                      upscaling_resize=1,
                                      script_args={"Invert": {"enable": False, "strength": 1.0, "keep_copy": True}}))
    assert len(result.images) == 1 and result.images[0].getpixel((0, 0)) == RED
    assert result.infotexts[0].endswith("Labelled: yes") and "Invert" not in result.infotexts[0]


def test_page_shows_the_scripts_controls_and_passes_their_values(app):
    import gradio as gr

    from modules.ui import extras_tab
    from modules.ui.context import UiConfig, UiContext

    ctx = UiContext(app=app, ui_config=UiConfig(None))
    with gr.Blocks():
        extras_tab.build(ctx)
    section = ctx.shared["extras_scripts"]
    labels = [getattr(c, "label", None) for c in section.inputs]
    assert labels == ["Invert", "Strength", "Keep the original too"]
    calls(app).clear()
    gallery, info = extras_tab.run_extras(app, section, Image.new("RGBA", (8, 6), RED + (255,)), 0, 2.0, 512,
                                          512, True, "Lanczos", "None", 0.0, True, 0.5, False)
    assert len(gallery) == 1 and gallery[0][0].getpixel((5, 5)) == INVERTED
    assert "Invert: 0.5" in info and "Labelled: yes" in info
    app.scripts.extras_image_changed()
    assert calls(app)[-1] == ("image_changed",)


def test_api_passes_no_script_values_as_a1111_does(app):
    import webui

    calls(app).clear()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), RED).save(buffer, format="PNG")
    with TestClient(webui.create_server(app)) as client:
        r = client.post("/sdapi/v1/extra-single-image",
                        json={"image": base64.b64encode(buffer.getvalue()).decode(), "upscaler_1": "Lanczos",
                              "upscaling_resize": 2})
    assert r.status_code == 200
    image = Image.open(io.BytesIO(base64.b64decode(r.json()["image"])))
    assert image.size == (16, 12) and image.convert("RGB").getpixel((0, 0)) == RED
    assert "Labelled: yes" in r.json()["html_info"]
    assert calls(app)[:2] == [("firstpass", None, 16), ("process", None, None, None)]
