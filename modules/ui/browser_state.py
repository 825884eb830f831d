"""Prompt and fields survive a page reload: their values live in the browser's localStorage (gr.BrowserState)
and are put back when the page loads. The server keeps nothing per browser."""
from __future__ import annotations

import gradio as gr

from modules.ui.context import UiContext

STORAGE_KEY = "easel_fields_v1"


def restore(names: list[str], saved: dict | None) -> list:
    """One update per field: the saved value where there is one."""
    saved = saved or {}
    return [gr.update(value=saved[name]) if name in saved else gr.update() for name in names]


def wire(ctx: UiContext, blocks: gr.Blocks) -> None:
    keyed = {key: comp for key, comp in ctx.keys.items() if comp in ctx.persist}
    names, components = list(keyed), list(keyed.values())
    if not components:
        return
    state = gr.BrowserState({}, storage_key=STORAGE_KEY)
    blocks.load(lambda saved: restore(names, saved), inputs=state, outputs=components, queue=False,
                show_progress="hidden")
    gr.on([c.change for c in components], lambda *values: dict(zip(names, values)), inputs=components,
          outputs=state, queue=False, show_progress="hidden", trigger_mode="always_last")
