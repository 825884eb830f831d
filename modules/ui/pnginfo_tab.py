"""PNG Info: drop an image, see every text chunk and the parsed parameters, send them to a tab."""
from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from modules.errors import EaselError
from modules.imaging.infotext import parse_infotext
from modules.imaging.metadata import read_image_metadata
from modules.ui.components import SafeImage
from modules.ui.context import UiContext
from modules.ui.results import error_html

SEND_TO = (("txt2img", "Send to txt2img"), ("img2img", "Send to img2img"), ("inpaint", "Send to inpaint"),
           ("extras", "Send to extras"))


def info_html(infotext: str | None, items: dict) -> str:
    """The chunks as A1111 shows them (`parameters` first), then the parsed parameters as a table.

    >>> "<td>Steps</td><td>20</td>" in info_html("a cat\\nSteps: 20, Sampler: Euler, Seed: 1", {})
    True
    >>> "no generation parameters" in info_html(None, {"Software": "paint"})
    True
    """
    parts = []
    if infotext:
        parts.append(f"<div><p><b>parameters</b></p><pre class='infotext'>{html.escape(infotext)}</pre></div>")
    for key, value in items.items():
        parts.append(f"<div><p><b>{html.escape(str(key))}</b></p><pre>{html.escape(str(value))}</pre></div>")
    if infotext:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in parse_infotext(infotext, defaults=False).items())
        parts.append(f"<table class='pnginfo-params'><tr><th>Parameter</th><th>Value</th></tr>{rows}</table>")
    else:
        parts.append("<div class='pnginfo-empty'>This image has no generation parameters.</div>")
    return "".join(parts)


def read_file(path: str | None) -> tuple[str, str, dict]:
    """(html, infotext, items) of an uploaded file; a file that is not an image gives a message."""
    if not path:
        return "", "", {}
    try:
        infotext, items = read_image_metadata(Path(path).read_bytes())
    except EaselError as e:
        return error_html(f"{Path(path).name}: {e.message}"), "", {}
    return info_html(infotext, items), infotext or "", items


def build(ctx: UiContext) -> None:
    with gr.Row(equal_height=False, elem_id="pnginfo_row"):
        with gr.Column(variant="panel"):
            # filepath + no image_mode: the handler reads the file as uploaded, text chunks and all
            image = SafeImage(label="Source", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                             elem_id="pnginfo_image", height=420)
        with gr.Column(variant="panel"):
            info = gr.HTML(elem_id="pnginfo_html")
            infotext = gr.Textbox(visible=False, elem_id="pnginfo_generation_info")
            with gr.Row(elem_id="pnginfo_send"):
                buttons = {target: gr.Button(label, elem_id=f"pnginfo_send_to_{target}", min_width=140)
                           for target, label in SEND_TO}

    def show(path):
        page, text, _ = read_file(path)
        return page, text

    image.change(show, inputs=image, outputs=[info, infotext], show_progress="hidden")
    ctx.shared["pnginfo"] = (image, infotext, buttons)
