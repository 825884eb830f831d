"""The ControlNet accordion: the extension's element ids on both tabs, unit values → units, preview, refusals."""
from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image, ImageDraw

from modules.controlnet.preprocessors import default_registry
from modules.controlnet.units import ControlMode, ResizeMode
from modules.errors import EaselError
from modules.ui import controlnet_panel
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_checkpoint):
    from modules.ui.layout import build_ui

    app = make_app(tmp_path_factory.mktemp("cn-ui"), tiny_checkpoint)
    return app, build_ui(app)


def test_accordion_has_the_extensions_ids(built):
    _, blocks = built
    ids = {b.elem_id for b in blocks.blocks.values() if getattr(b, "elem_id", None)}
    for tab in ("txt2img", "img2img"):
        assert {f"{tab}_controlnet", f"{tab}_controlnet_tabs"} <= ids
        for i in range(3):  # control_net_unit_count's default
            prefix = f"{tab}_controlnet_ControlNet-{i}"
            for suffix in ("input_image", "mask_image", "generated_image", "controlnet_enable_checkbox",
                           "controlnet_preprocessor_dropdown", "controlnet_model_dropdown",
                           "controlnet_trigger_preprocessor", "controlnet_control_weight_slider",
                           "controlnet_threshold_A_slider", "controlnet_resize_mode_radio"):
                assert f"{prefix}_{suffix}" in ids, f"{prefix}_{suffix}"
        assert f"{tab}_controlnet_ControlNet-3_input_image" not in ids


def values(image=None, **changes):
    v = {"image": image, "mask": None, "enabled": True, "low_vram": False, "pixel_perfect": False, "module": "canny",
         "model": "None", "weight": 0.5, "guidance_start": 0.0, "guidance_end": 1.0, "processor_res": 64,
         "threshold_a": 100, "threshold_b": 200, "control_mode": "ControlNet is more important",
         "resize_mode": "Just Resize", "hr_option": "Both", **changes}
    return [v[name] for name in controlnet_panel.FIELDS]


def test_values_become_units():
    image = Image.new("RGBA", (32, 32))
    first, second = controlnet_panel.units_from_values(values(image) + values(enabled=False))
    assert first.enabled and first.module == "canny" and first.weight == 0.5 and first.image.mode == "RGB"
    assert first.control_mode is ControlMode.CONTROL and first.resize_mode is ResizeMode.JUST_RESIZE
    assert not second.enabled


def test_enabled_unit_problems_are_refused(built):
    app, _ = built
    ctx = type("Ctx", (), {"app": app})()
    assert controlnet_panel.request_units(ctx, values(enabled=False)) == ()
    with pytest.raises(EaselError, match=r"controlnet.args\[0\].image"):
        controlnet_panel.request_units(ctx, values(None))
    with pytest.raises(EaselError, match=r"controlnet.args\[0\].model"):
        controlnet_panel.request_units(ctx, values(Image.new("RGB", (32, 32))))


def test_preview_and_sliders():
    image = Image.new("RGB", (64, 64), "black")
    ImageDraw.Draw(image).rectangle((16, 16, 47, 47), fill="white")
    edges = controlnet_panel.preview_map(default_registry(), "canny", image, None, 64, 100, 200)
    assert edges.size == (64, 64) and edges.getpixel((32, 32)) == (0, 0, 0) and max(edges.getdata())[0] == 255
    with pytest.raises(gr.Error):
        controlnet_panel.preview_map(default_registry(), "canny", None, None, 64, 100, 200)
    res, a, b = controlnet_panel.slider_updates(default_registry(), "canny")
    assert a["label"] == "Low Threshold" and a["value"] == 100 and b["maximum"] == 255 and res["visible"]
    assert [u["visible"] for u in controlnet_panel.slider_updates(default_registry(), "invert")] == [False] * 3


def test_pasted_infotext_fills_the_unit_it_names():
    from modules.imaging.infotext import parse_infotext

    params = parse_infotext('x\nSteps: 2, Seed: 1, Size: 64x64, ControlNet 1: "Module: canny, Model: m [ab12], '
                            'Weight: 0.6, Resize Mode: Resize and Fill, Processor Res: 256, Threshold A: 50.0, '
                            'Threshold B: 150.0, Guidance Start: 0.1, Guidance End: 0.9, Pixel Perfect: True, '
                            'Control Mode: ControlNet is more important"')
    got = {name: controlnet_panel.pasted(1, name)(params) for name in controlnet_panel.PASTED}
    assert got == {"enabled": True, "module": "canny", "model": "m [ab12]", "weight": 0.6,
                   "resize_mode": "Resize and Fill", "processor_res": 256, "threshold_a": 50.0, "threshold_b": 150.0,
                   "guidance_start": 0.1, "guidance_end": 0.9, "pixel_perfect": True,
                   "control_mode": "ControlNet is more important"}
    assert controlnet_panel.pasted(0, "module")(params) is None  # unit 0 has no entry: left as it is




def test_control_type_filters_preprocessors_and_models():
    models = ["control_v11p_sd15_canny [ab]", "control_v11f1p_sd15_depth [cd]"]
    modules, chosen = controlnet_panel.type_filter(default_registry(), models, "Canny")
    assert [name for _, name in modules["choices"]] == ["none", "canny", "invert"]
    assert modules["value"] == "canny"  # the extension's default: the first after "none"
    assert chosen["choices"] == ["None", "control_v11p_sd15_canny [ab]"]
    assert chosen["value"] == "control_v11p_sd15_canny [ab]"
    everything, _ = controlnet_panel.type_filter(default_registry(), [], "All")
    assert len(everything["choices"]) == len(default_registry().all())
