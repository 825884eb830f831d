"""Gradio components of our own: image inputs that answer a file which is not an image with a message naming the
field, not a traceback; a button with a mouse-over title; a Tabs drawn as a column."""
from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.blocks import Block
from PIL import UnidentifiedImageError

NOT_AN_IMAGE = "{label}: the uploaded file is not an image Easel can read (use PNG, JPEG or WebP)"


def _refuse(component, error: Exception):
    label = component.label or component.elem_id or "image"
    raise gr.Error(NOT_AN_IMAGE.format(label=label), print_exception=False) from error


class SafeImage(gr.Image):
    """gr.Image whose preprocessing failure on a corrupt or non-image upload becomes a user message."""

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            _refuse(self, e)

    def get_block_name(self) -> str:
        return "image"


class SafeImageEditor(gr.ImageEditor):
    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            _refuse(self, e)

    def get_block_name(self) -> str:
        return "imageeditor"


class SafeImageMask(gr.ImageMask):
    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            _refuse(self, e)

    def get_block_name(self) -> str:
        return "imageeditor"


class TitledButton(gr.Button):
    """gr.Button with a mouse-over title. Gradio's Button has none: the text goes into the component's configuration
    as `webui_tooltip`, which javascript/hints.js makes the button's title (A1111's `tooltip=` does the same)."""

    def __init__(self, value: str, *, tooltip: str, **kwargs: Any) -> None:
        self.webui_tooltip = tooltip
        super().__init__(value, **kwargs)

    def get_config(self, cls: type[Block] | None = None) -> dict[str, Any]:
        config = super().get_config(cls or gr.Button)  # Button's parameters, not this constructor's
        config["webui_tooltip"] = self.webui_tooltip
        return config

    def get_block_name(self) -> str:
        return "button"


class TabsAsColumn(gr.Tabs):
    """A Tabs holding no Tab, drawn by the page as a column, as Gradio 3 drew it (contents_at_load in
    modules/ui/layout.py turns such a Tabs into one)."""

    def get_block_name(self) -> str:
        return "column"

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Column.get_component_class_id()
