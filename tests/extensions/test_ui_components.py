"""A1111's `modules.ui_components`, `modules.ui_common` and `modules.call_queue` as extensions use them."""
from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path

import gradio as gr
import pytest

from modules.extensions.compat import call_queue, gradio3, install_aliases, uninstall_aliases, ui_common
from modules.extensions.compat.ui_components import (DropdownEditable, DropdownMulti, FormColumn, FormGroup,
                                                     FormHTML, FormRow, InputAccordion, ResizeHandleRow, ToolButton)


pytestmark = pytest.mark.usefixtures("plain_gradio")


@pytest.fixture(params=[False, True], ids=["plain", "shimmed"])
def shim(request):
    """These helpers work with and without the Gradio 3 shim."""
    if request.param:
        gradio3.install_gradio3_shim()
    yield request.param
    if request.param:
        gradio3.uninstall_gradio3_shim()


def _fns(demo):
    return list(demo.fns.values())


def _enclosing(block, kind):
    """The nearest enclosing block of type `kind` (Gradio slips Form blocks around form components)."""
    parent = block.parent
    while not isinstance(parent, kind):
        parent = parent.parent
    return parent


def test_a1111_module_names_resolve_here():
    install_aliases()
    try:
        assert importlib.import_module("modules.ui_components").InputAccordion is InputAccordion
        assert importlib.import_module("modules.ui_common").create_refresh_button is ui_common.create_refresh_button
        assert importlib.import_module("modules.ui_common").ToolButton is ToolButton  # Forge-style import
        assert importlib.import_module("modules.call_queue").wrap_gradio_gpu_call is call_queue.wrap_gradio_gpu_call
    finally:
        uninstall_aliases()


def test_tool_button_is_a_small_button_with_its_configuration(shim):
    with gr.Blocks():
        button = ToolButton(value="🎲", elem_id="seed_random", elem_classes=["mine"], tooltip="Random seed")
    config = button.get_config()
    assert (config["value"], config["elem_id"]) == ("🎲", "seed_random")
    assert config["elem_classes"] == ["tool", "mine"] and config["scale"] == 0 and config["min_width"] == 36
    assert button.get_block_name() == "button" and button.get_expected_parent() is None
    if shim:  # A1111's key, which javascript/hints.js makes the button's title
        assert config["webui_tooltip"] == "Random seed"
    assert not list(Path(ui_common.__file__).parent.glob("*.pyi"))


def test_form_layouts_and_dropdowns(shim):
    with gr.Blocks() as demo:
        with FormRow(elem_id="row") as row:
            multi = DropdownMulti(choices=["a", "b"], value=["a"], label="Several")
            editable = DropdownEditable(choices=["x"], value="typed", label="Editable")
        with FormColumn(elem_id="col") as column, FormGroup() as group:
            html = FormHTML(value="<b>hi</b>")
        with ResizeHandleRow(equal_height=True) as resize:
            gr.Column()
    assert multi.multiselect is True and editable.allow_custom_value is True
    assert multi.get_config()["multiselect"] is True and editable.get_config()["value"] == "typed"
    for block, name in [(row, "row"), (column, "column"), (group, "group"), (html, "html")]:
        assert block.get_expected_parent() is gr.components.Form and block.get_block_name() == name
    assert row.get_config()["elem_id"] == "row" and html.get_config()["value"] == "<b>hi</b>"
    assert "resize-handle-row" in resize.elem_classes and resize.get_config()["equal_height"] is True
    assert isinstance(row.parent, gr.components.Form)  # grouped in a form, as in A1111
    demo.get_config_file()


def test_input_accordion_value_is_the_open_state(shim):
    with gr.Blocks() as demo:
        with InputAccordion(False, label="My extension", elem_id="myext") as enabled:
            with enabled.extra():
                extra_html = FormHTML(value="beside the title")
            strength = gr.Slider(label="Strength")
    assert isinstance(enabled, gr.Checkbox) and enabled.value is False
    assert enabled.elem_id == "myext-checkbox" and enabled.visible == "hidden"
    accordion = enabled.accordion
    assert isinstance(accordion, gr.Accordion) and accordion.open is False and accordion.label == "My extension"
    assert accordion.elem_id == "myext" and "input-accordion" in accordion.elem_classes
    assert _enclosing(strength, gr.Accordion) is accordion  # `with InputAccordion(...)` fills the accordion
    extra = _enclosing(extra_html, gr.Column)
    assert extra.elem_id == "myext-extra" and extra.parent is accordion
    assert enabled.get_config()["value"] is False and enabled.get_block_name() == "checkbox"

    by_event = {(fn.targets[0][0], fn.targets[0][1]): fn for fn in _fns(demo)}
    to_accordion = by_event[(enabled._id, "change")]
    assert to_accordion.inputs == [enabled] and to_accordion.outputs == [accordion]
    assert to_accordion.fn(True) == {"open": True, "__type__": "update"}
    assert to_accordion.fn(False) == {"open": False, "__type__": "update"}
    expand, collapse = by_event[(accordion._id, "expand")], by_event[(accordion._id, "collapse")]
    assert expand.outputs == [enabled] and expand.fn() is True
    assert collapse.outputs == [enabled] and collapse.fn() is False
    assert all(fn.api_visibility == "private" for fn in (to_accordion, expand, collapse))
    demo.get_config_file()


def test_input_accordion_open_by_default_and_generated_ids(shim):
    with gr.Blocks():
        first = InputAccordion(True, label="One")
        second = InputAccordion(False)
    assert first.value is True and first.accordion.open is True
    assert first.accordion_id != second.accordion_id and second.accordion.label == "Accordion"
    assert first.accordion_id.startswith("input-accordion-")


def test_create_refresh_button_refreshes_components(shim):
    calls = []
    names = ["a"]
    with gr.Blocks() as demo:
        dropdown = gr.Dropdown(label="Model", choices=names, value="a")
        button = ui_common.create_refresh_button(dropdown, lambda: calls.append(names.append("b")),
                                                 lambda: {"choices": list(names)}, "refresh_model")
    assert isinstance(button, ToolButton) and button.value == ui_common.refresh_symbol
    assert button.elem_id == "refresh_model"
    click = _fns(demo)[-1]
    assert click.outputs == [dropdown]
    assert click.fn() == {"choices": ["a", "b"], "__type__": "update"} and calls == [None]
    assert dropdown.choices == ["a", "b"]  # the Python object follows, as in A1111

    with gr.Blocks() as demo:
        both = [gr.Dropdown(choices=[]), gr.Dropdown(choices=[])]
        ui_common.create_refresh_button(both, lambda: None, {"choices": ["z"]}, "refresh_both")
    assert _fns(demo)[-1].fn() == [{"choices": ["z"], "__type__": "update"}] * 2


def test_plaintext_to_html_escapes():
    assert ui_common.plaintext_to_html("a<b\nc") == "<p>a&lt;b<br>\nc</p>"
    assert ui_common.plaintext_to_html("x", "err") == "<p class='err'>x</p>"


def test_wrap_gradio_call_returns_outputs_or_the_error_as_html(caplog):
    ok = call_queue.wrap_gradio_call(lambda a, b: [a + b, "info"])
    assert ok(1, 2) == (3, "info")

    def boom(x):
        raise ValueError("bad <input>")

    failing = call_queue.wrap_gradio_call(boom)
    assert failing(1) == (None, "", "<div class='error'>ValueError: bad &lt;input&gt;</div>")
    assert "boom" in caplog.text
    with_extra = call_queue.wrap_gradio_call(boom, extra_outputs=[[]])
    assert with_extra(1) == ([], "<div class='error'>ValueError: bad &lt;input&gt;</div>")


def test_gpu_and_queued_calls_run_one_at_a_time():
    running, overlaps = [], []

    def work(i):
        running.append(i)
        overlaps.append(len(running))
        time.sleep(0.02)
        running.remove(i)
        return [i]

    for wrapped in (call_queue.wrap_gradio_gpu_call(work), call_queue.wrap_queued_call(work)):
        overlaps.clear()
        threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert overlaps == [1, 1, 1, 1]
    assert call_queue.wrap_gradio_gpu_call(work)(7) == (7,)
    assert call_queue.wrap_gradio_gpu_call(lambda: 1 / 0, extra_outputs=["x"])() == (
        "x", "<div class='error'>ZeroDivisionError: division by zero</div>")
