"""A1111's `after_component` hooks run when a component is built for the page, not when Gradio 6 rebuilds it from
its first arguments to apply an event handler's update (Gradio 3 never did): sd-webui-animatediff wires an event on
`setting_sd_model_checkpoint` from its hook, which outside a Blocks would fail on every checkpoint refresh."""
from __future__ import annotations

import asyncio
import concurrent.futures

import gradio as gr
import pytest

from modules.extensions.compat import component_hooks, script_callbacks


@pytest.fixture
def hooked():
    component_hooks.install()
    seen: list[str] = []
    script_callbacks.on_after_component(lambda component, **kw: seen.append(kw.get("elem_id") or ""))
    yield seen
    script_callbacks.clear_callbacks()
    component_hooks.remove()


def test_update_of_a_component_runs_no_hook(hooked):
    with gr.Blocks() as blocks:
        dropdown = gr.Dropdown(["a"], value="a", elem_id="probe_dropdown")
        button = gr.Button("refresh", elem_id="probe_button")
        button.click(lambda: gr.update(choices=["a", "b"]), outputs=dropdown)
    assert hooked.count("probe_dropdown") == 1

    block_fn = next(fn for fn in blocks.fns.values() if fn.outputs)
    # in a thread of its own: a browser test earlier in this process may have left an event loop running here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, blocks.postprocess_data(block_fn, gr.update(choices=["a", "b"]), None)).result()

    assert hooked.count("probe_dropdown") == 1


def test_components_built_outside_updates_still_run_hooks(hooked):
    gr.Textbox(elem_id="probe_unrendered", render=False)  # e.g. an extension's own component, placed later
    assert "probe_unrendered" in hooked
