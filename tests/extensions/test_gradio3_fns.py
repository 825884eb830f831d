"""`Blocks.fns` as Gradio 3 had it: a list of listeners extensions iterate, reading each one's `inputs` and
`outputs` (sd-webui-supermerger finds the Generate button's inputs this way in `on_app_started`, after finding
the button in `Blocks.dependencies`). Gradio's own code keeps its dict: ids, lookups, JavaScript-only listeners."""
from __future__ import annotations

import gradio as gr
import pytest

pytestmark = pytest.mark.usefixtures("shim")


def test_iterating_fns_reads_each_listener_as_gradio3(shim):
    with gr.Blocks() as demo:
        prompt = gr.Textbox(elem_id="probe_prompt")
        steps = gr.Slider(1, 10, elem_id="probe_steps")
        result = gr.Textbox(elem_id="probe_result")
        generate = gr.Button(elem_id="probe_generate")
        generate.click(lambda p, s: f"{p} {s}", inputs=[prompt, steps], outputs=[result])
        generate.click(None, _js="() => 1")  # a JavaScript-only listener: Gradio's own bookkeeping of ids

    click = next(d for d in demo.dependencies if generate._id in d["targets"] and d["outputs"])
    found = [fn for fn in demo.fns if [c._id for c in fn.inputs] == click["inputs"]]
    assert len(found) == 1 and found[0].outputs == [result]
    assert [fn.inputs for fn in demo.fns][0] == [prompt, steps]
    fn_id = next(iter(demo.fns))
    assert demo.fns[fn_id].fn is found[0].fn and fn_id in demo.fns and int(fn_id) == fn_id
    assert len(demo.fns) == len(demo.dependencies) == 2
    assert "dependencies" in demo.get_config_file()


def test_uninstall_puts_gradio_dict_back(shim):
    from modules.extensions.compat import gradio3

    gradio3.uninstall_gradio3_shim()
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    assert type(demo.fns) is dict
    gradio3.install_gradio3_shim()
