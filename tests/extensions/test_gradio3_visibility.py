"""Gradio 3 kept `visible=False` components in the page, hidden, and extensions' scripts look them up by elem_id:
under the shim, extension code's visible=False (constructor, gr.X.update, updates its handlers return) becomes
Gradio's visible="hidden"; Easel's own components keep visible=False (compat/gradio3_visibility.py)."""
from __future__ import annotations

import importlib.util

import gradio as gr

EXTENSION_UI = '''
import gradio as gr


def build():
    with gr.Blocks() as demo:
        box = gr.Textbox(visible=False, elem_id="ext_hidden_box")
        shown = gr.Textbox(elem_id="ext_shown_box")
        with gr.Row(visible=False, elem_id="ext_hidden_row"):
            gr.Checkbox(label="inside")
        button = gr.Button("toggle")
        button.click(fn=lambda: (gr.update(visible=False), gr.Textbox.update(visible=False)), inputs=[],
                     outputs=[box, shown])
        button.click(lambda: {"__type__": "update", "visible": True}, [], [box])
    return demo
'''


def _load_extension(tmp_path):
    from modules.extensions.compat.reporting import register_extension_folder

    folder = tmp_path / "sd-webui-hider"
    (folder / "scripts").mkdir(parents=True)
    path = folder / "scripts" / "hider.py"
    path.write_text(EXTENSION_UI)
    register_extension_folder(folder, "sd-webui-hider")
    spec = importlib.util.spec_from_file_location("hider_test_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _props(demo, elem_id):
    config = demo.get_config_file()
    return next(c["props"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)


def test_extension_components_stay_in_the_page_hidden(shim, tmp_path):
    demo = _load_extension(tmp_path).build()
    assert _props(demo, "ext_hidden_box")["visible"] == "hidden"
    assert _props(demo, "ext_hidden_row")["visible"] == "hidden"
    assert _props(demo, "ext_shown_box")["visible"] is True
    first, second = [demo.fns[i].fn for i in sorted(demo.fns)[:2]]
    assert [u["visible"] for u in first()] == ["hidden", "hidden"]
    assert second()["visible"] is True


def test_easels_own_components_keep_gradios_meaning(shim, tmp_path):
    _load_extension(tmp_path)  # an extension is loaded, but this code is not in its folder
    with gr.Blocks() as demo:
        gr.Textbox(visible=False, elem_id="core_hidden_box")
    assert _props(demo, "core_hidden_box")["visible"] is False

