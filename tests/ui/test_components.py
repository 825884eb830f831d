"""Easel's own Gradio components."""
from __future__ import annotations

import gradio as gr

from modules.ui.components import TitledButton


def test_titled_button_is_a_button_whose_configuration_carries_its_title():
    with gr.Blocks():
        titled = TitledButton("💾", tooltip="Save it", elem_id="save_x", elem_classes=["tool"], scale=0,
                              min_width=40)
        plain = gr.Button("💾", elem_id="save_x", elem_classes=["tool"], scale=0, min_width=40)
    config, expected = titled.get_config(), plain.get_config()
    assert config.pop("webui_tooltip") == "Save it"  # the key javascript/hints.js reads
    assert config.pop("name") == "titledbutton" and expected.pop("name") == "button"
    expected.pop("webui_tooltip", None)
    assert config == expected
    assert titled.get_block_name() == "button"  # the page draws Gradio's button
