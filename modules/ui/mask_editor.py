"""The Inpaint tab's mask editor: Gradio's plain image upload (`img2maskimg`, A1111's id), a tool bar, and a
hidden text field that javascript/mask-editor.js fills with the painted mask as a PNG data URL.

Strokes are drawn in the browser on a canvas laid over the picture, so painting needs no server round trip and
undo/redo only ever replay strokes: the uploaded picture lives in its own component and no tool can remove it.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from modules.ui.components import SafeImage

EDITOR_ID = "img2maskimg"
SIZE_RANGE = (1, 256)
DEFAULT_SIZE = 24
DEFAULT_OPACITY = 60  # percent


@dataclass(frozen=True)
class Tool:
    """One button of the tool bar; `key` is the shortcut shown in its tooltip."""
    name: str
    label: str
    title: str
    key: str = ""


TOOLS = (Tool("brush", "🖌️ Brush", "Paint the area to regenerate", "B"),
         Tool("eraser", "🧽 Eraser", "Erase painted mask", "E"),
         Tool("undo", "↶ Undo", "Undo the last stroke", "Ctrl+Z"),
         Tool("redo", "↷ Redo", "Redo the stroke undone last", "Ctrl+Shift+Z"),
         Tool("clear", "✖ Clear mask", "Remove every stroke (undo brings them back)"))


PRESSED = {"brush": "true", "eraser": "false"}  # the two painting tools are toggles; the brush starts on


def _button(tool: Tool) -> str:
    title = f"{tool.title} ({tool.key})" if tool.key else tool.title
    pressed = f' aria-pressed="{PRESSED[tool.name]}"' if tool.name in PRESSED else ""
    return (f'<button type="button" id="{EDITOR_ID}_{tool.name}" class="mask-tool" title="{html.escape(title)}"'
            f'{pressed}>{html.escape(tool.label)}</button>')


def toolbar_html() -> str:
    """The tool bar's static markup; javascript/mask-editor.js finds every control by its id.

    >>> page = toolbar_html()
    >>> all(f'id="img2maskimg_{n}"' in page for n in ("brush", "eraser", "undo", "redo", "clear", "size", "opacity"))
    True
    """
    low, high = SIZE_RANGE
    return (f'<div class="mask-toolbar" role="toolbar" aria-label="Mask tools">'
            f'{"".join(_button(t) for t in TOOLS)}'
            f'<label class="mask-range" title="Brush size in image pixels (mouse wheel over the picture, [ and ])">'
            f'Size <input type="range" id="{EDITOR_ID}_size" min="{low}" max="{high}" value="{DEFAULT_SIZE}">'
            f'<output id="{EDITOR_ID}_size_value">{DEFAULT_SIZE}</output></label>'
            f'<label class="mask-range" title="How strongly the mask covers the picture on screen">'
            f'Mask opacity <input type="range" id="{EDITOR_ID}_opacity" min="10" max="100" '
            f'value="{DEFAULT_OPACITY}"></label>'
            f'<label class="mask-range" title="Colour the mask is shown in (the mask itself is black and white)">'
            f'Colour <input type="color" id="{EDITOR_ID}_color" value="#ffffff"></label>'
            f'</div><div id="{EDITOR_ID}_status" class="mask-status" role="status" aria-live="polite">'
            f'Upload an image, then paint over the part to change.</div>')


def build(height: int = 420) -> tuple[gr.Image, gr.Textbox]:
    """(picture component, mask text component) for the Inpaint sub-tab; the generate call reads both."""
    with gr.Column(elem_id=f"{EDITOR_ID}_editor", elem_classes=["mask-editor"]):
        gr.HTML(toolbar_html(), elem_id=f"{EDITOR_ID}_toolbar", padding=False)
        image = SafeImage(label="Image for inpainting with mask", type="pil", image_mode="RGBA", elem_id=EDITOR_ID,
                          sources=["upload", "clipboard"], height=height)
        mask = gr.Textbox(visible="hidden", elem_id=f"{EDITOR_ID}_mask", label="Painted mask (PNG data URL)",
                          max_lines=1)
    return image, mask
