"""The Gradio 3 shim: extension code written for A1111 1.x (Gradio 3.41) builds under the current Gradio,
and the shim comes off cleanly. No server: building Blocks is enough to see what the page would get."""
from __future__ import annotations

import re

from pathlib import Path

import gradio as gr
import pytest

from modules.extensions.compat import gradio3


pytestmark = pytest.mark.usefixtures("plain_gradio")


def _fns(demo):
    return list(demo.fns.values())


def test_install_is_idempotent_and_uninstall_restores_everything():
    before = {name: vars(gr.Button).get(name) for name in ("__init__", "click")}
    gradio3.install_gradio3_shim()
    gradio3.install_gradio3_shim()
    assert gradio3.is_installed()
    assert vars(gr.Button)["__init__"] is not before["__init__"]
    gradio3.uninstall_gradio3_shim()
    assert not gradio3.is_installed()
    assert {name: vars(gr.Button).get(name) for name in ("__init__", "click")} == before
    for owner, name in [(gr, "Box"), (gr, "Variable"), (gr.components, "IOComponent"), (gr.Textbox, "update"),
                        (gr.Textbox, "style")]:
        assert not hasattr(owner, name), name
    with gr.Blocks():
        button = gr.Button()
        with pytest.raises(TypeError):
            button.click(None, _js="() => 1")
        with pytest.raises(TypeError):
            gr.Image(source="upload")


def test_update_classmethods_become_gr_update(shim):
    assert gr.Dropdown.update(choices=["a", "b"], value="a") == {"choices": ["a", "b"], "value": "a",
                                                                  "__type__": "update"}
    assert gr.Textbox.update("text") == {"value": "text", "__type__": "update"}  # positional value, as in 3.x
    # Gradio 3 hid a component in the page; Gradio 6's visible=False takes it out (compat/gradio3_visibility.py)
    assert gr.Slider.update(maximum=10, visible=False) == {"maximum": 10, "visible": "hidden",
                                                           "__type__": "update"}
    assert gr.Accordion.update(open=True) == {"open": True, "__type__": "update"}
    assert gr.Button.update(interactive=False, variant="tool") == {
        "interactive": False, "variant": "secondary", "elem_classes": ["tool"], "__type__": "update"}
    # vanished keywords: translated where a successor exists, dropped otherwise
    assert gr.Image.update(source="webcam", tool="sketch", value=None) == {
        "sources": ["webcam"], "value": None, "__type__": "update"}
    assert gr.Row.update(visible=False) == {"visible": False, "__type__": "update"}
    with gr.Blocks():  # works on instances too (`self.dropdown.update(...)` in some extensions)
        assert gr.Checkbox().update(value=True) == {"value": True, "__type__": "update"}
    for name in ("Textbox", "Number", "Slider", "Checkbox", "CheckboxGroup", "Radio", "Dropdown", "Image", "Gallery",
                 "HTML", "Markdown", "File", "Button", "Column", "Group", "Tab", "Tabs", "Accordion", "ColorPicker",
                 "Dataframe", "JSON", "Code", "Video", "Audio", "Label", "Plot", "State"):
        assert callable(getattr(gr, name).update), name


def test_js_keyword_on_every_listener(shim):
    with gr.Blocks() as demo:
        text = gr.Textbox()
        slider = gr.Slider()
        image = gr.Image()
        gallery = gr.Gallery()
        button = gr.Button()
        button.click(fn=None, _js="() => 'click'", inputs=[], outputs=[text])
        text.change(lambda x: x, text, text, _js="(x) => x + 'change'")
        text.submit(lambda x: x, text, text, _js="(x) => 'submit'")
        text.input(lambda x: x, text, text, _js="(x) => 'input'")
        slider.release(lambda x: x, slider, slider, _js="(x) => 'release'")
        image.upload(lambda x: x, image, image, _js="(x) => 'upload'")
        gallery.select(lambda: None, None, None, _js="() => 'select'")
        button.click(lambda: "a", None, text, status_tracker=None, show_progress=False).then(
            lambda: "b", None, text, _js="() => 'then'")
        demo.load(lambda: "c", None, text, _js="() => 'load'")
    scripts = [fn.js for fn in _fns(demo)]
    for name in ("click", "change", "submit", "input", "release", "upload", "select", "then", "load"):
        assert any(js and name in js for js in scripts), name
    demo.get_config_file()  # the page configuration still builds


def test_js_with_explicit_js_keyword_keeps_new_name(shim):
    with gr.Blocks() as demo:
        gr.Button().click(fn=None, js="() => 'new'", _js=None)
    assert _fns(demo)[0].js == "() => 'new'"


def test_every_on_a_listener_polls_after_the_event(shim):
    with gr.Blocks() as demo:
        text = gr.Textbox()
        demo.load(lambda: "tick", None, text, every=2)
    timers = [b for b in demo.blocks.values() if isinstance(b, gr.Timer)]
    assert len(timers) == 1 and timers[0].value == 2 and timers[0].active is False
    kinds = [target[1] for fn in _fns(demo) for target in fn.targets]
    assert kinds == ["load", "tick", "then"]
    activate = _fns(demo)[-1]
    assert activate.fn() == {"active": True, "__type__": "update"}


def test_style_returns_the_block_and_applies_what_exists(shim):
    with gr.Blocks() as demo:
        with gr.Row().style(equal_height=True, mobile_collapse=False) as row:
            gallery = gr.Gallery().style(grid=[2, 4], height="auto", object_fit="contain", rounded=False)
            image = gr.Image().style(height=242)
            button = gr.Button().style(full_width=False, size="sm")
            text = gr.Textbox().style(container=False, show_copy_button=True)
        with gr.Column(variant="compact").style(container=False):
            gr.Checkbox().style(container=False)
    assert row.equal_height is True
    assert (gallery.columns, gallery.height, gallery.object_fit) == (4, "auto", "contain")
    assert image.height == 242
    assert (button.scale, button.size) == (0, "sm")
    assert text.container is False
    demo.get_config_file()


def test_removed_constructor_keywords_are_translated_or_dropped(shim):
    with gr.Blocks():
        with gr.Box(elem_id="box") as box:
            image = gr.Image(source="upload", tool="sketch", brush_radius=20, brush_color="#fff", mask_opacity=0.5,
                             mirror_webcam=False, shape=(64, 64), invert_colors=False, type="pil",
                             show_share_button=False, interactive=True, elem_classes=["cn"], show_label=False)
            canvas = gr.Image(source="canvas", tool="color-sketch")
            button = gr.Button("🔄", variant="tool", elem_classes="mine", tooltip="Refresh")
            index = gr.Dropdown(["a", "b"], value="a", type="index", label="pick")
            text = gr.Textbox(show_copy_button=True, root_url=None, _skip_init_processing=False)
            upload = gr.File(type="file", file_count="multiple")
            table = gr.Dataframe(headers=["a"], max_rows=3, overflow_row_behaviour="paginate")
            with gr.Column(variant="panel", scale=2):
                state = gr.Variable(value=1)
    assert isinstance(box, gr.Group) and box.elem_id == "box"
    assert image.sources == ["upload"] and image.type == "pil" and image.webcam_options.mirror is False
    assert image.buttons == ["download", "fullscreen"] and image.elem_classes == ["cn"] and image.show_label is False
    assert list(canvas.sources) == []  # a blank canvas to draw on (see test_gradio3_drawing)
    assert button.variant == "secondary" and button.elem_classes == ["mine", "tool"]
    assert button.get_config()["webui_tooltip"] == "Refresh" and "webui_tooltip" not in index.get_config()
    assert index.type == "index"
    assert text.buttons == ["copy"]
    assert upload.type == "filepath"
    assert table.headers == ["a"]
    assert isinstance(state, gr.State) and isinstance(gr.components.IOComponent, type)


def test_forwarding_subclass_keeps_its_configuration_and_writes_no_stub(shim):
    # the ToolButton that sd-webui-controlnet and others define for themselves
    class ExtensionToolButton(gr.Button, gr.components.FormComponent):
        def __init__(self, **kwargs):
            super().__init__(variant="tool", elem_classes=kwargs.pop("elem_classes", []) + ["ext"], **kwargs)

        def get_block_name(self):
            return "button"

    with gr.Blocks():
        button = ExtensionToolButton(value="🔄", elem_id="ext_refresh")
    config = button.get_config()
    assert (config["value"], config["elem_id"], config["variant"]) == ("🔄", "ext_refresh", "secondary")
    assert config["elem_classes"] == ["ext", "tool"]
    assert not Path(__file__).with_suffix(".pyi").exists()


def test_gradio3_extension_panel_builds_end_to_end(shim):
    """A panel as an A1111 1.x extension writes it, every idiom at once."""
    with gr.Blocks(analytics_enabled=False) as demo:
        with gr.Accordion("My extension", open=False):
            with gr.Row().style(equal_height=True):
                enabled = gr.Checkbox(label="Enable", value=False).style(container=False)
                model = gr.Dropdown(label="Model", choices=["None"], value="None")
                refresh = gr.Button(value="🔄", variant="tool")
            with gr.Box():
                image = gr.Image(source="upload", type="numpy", tool="sketch", brush_radius=20).style(height=242)
            weight = gr.Slider(label="Weight", minimum=0.0, maximum=2.0, step=0.05, value=1.0)
        refresh.click(lambda m: gr.Dropdown.update(choices=["None", "a"], value=m), model, model)
        enabled.change(lambda e: gr.Slider.update(interactive=e), enabled, weight, _js="(e) => e")
        image.upload(lambda i: gr.update(visible=True), image, weight, show_progress=False)
    assert len(demo.fns) == 3
    refresh_fn = _fns(demo)[0].fn
    assert refresh_fn("None") == {"choices": ["None", "a"], "value": "None", "__type__": "update"}
    assert demo.get_config_file()["components"]


def _page(blocks) -> tuple[list, list]:
    """The page as the browser receives it, without ids and per-build secrets."""
    config = blocks.get_config_file()
    components = [{"type": c["type"], **{k: v for k, v in c.get("props", {}).items() if k not in ("_id", "secret")}}
                  for c in config["components"]]
    dependencies = [(d.get("js"), len(d["inputs"]), len(d["outputs"]), d.get("queue"), d.get("show_progress"))
                    for d in config["dependencies"]]
    return components, dependencies


def test_easels_own_page_is_unchanged_under_the_shim(tmp_path, tiny_checkpoint):
    """Extensions install the shim before the page is built: Easel's own components must not notice."""
    from modules.ui.layout import build_ui
    from tests.pipeline.conftest import make_app

    plain = _page(build_ui(make_app(tmp_path / "plain", tiny_checkpoint)))
    gradio3.install_gradio3_shim()
    try:
        shimmed = _page(build_ui(make_app(tmp_path / "shimmed", tiny_checkpoint)))
    finally:
        gradio3.uninstall_gradio3_shim()
    # Extra Networks cards name their files and folders, which lie in each App's own data dir, with their dates
    def same_place(page, data_dir):
        text = repr(page).replace(str(data_dir), "DATA")
        return re.sub(r'data-sort-date_(\w+)="\d+"', r'data-sort-date_\1="T"', text)

    assert same_place(shimmed, tmp_path / "shimmed") == same_place(plain, tmp_path / "plain")
