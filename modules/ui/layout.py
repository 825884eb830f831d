"""The Gradio page: top bar and tabs. modules/ui is the only core package that imports gradio."""
from __future__ import annotations

import gradio as gr

from modules.ui import top_bar, txt2img_tab


def ui_css(paths) -> str:
    css_file = paths.install_dir / "style.css"
    return css_file.read_text(encoding="utf-8") if css_file.exists() else ""


def build_ui(app) -> gr.Blocks:
    with gr.Blocks(title="Easel", analytics_enabled=False) as blocks:
        top_bar.build(app)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("txt2img", id="txt2img", elem_id="tab_txt2img"):
                txt2img_tab.build(app)
    return blocks
