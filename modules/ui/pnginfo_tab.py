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
                       for k, v in display_rows(parse_infotext(infotext, defaults=False)))
        parts.append(f"<table class='pnginfo-params'><tr><th>Parameter</th><th>Value</th></tr>{rows}</table>")
    else:
        parts.append("<div class='pnginfo-empty'>This image has no generation parameters.</div>")
    return "".join(parts)


def display_rows(params: dict) -> list[tuple[str, object]]:
    """The parsed parameters as the infotext writes them: the parser's split keys ("Size-1", "Size-2") shown as
    one row ("Size", "512x768") where they were one field.

    >>> display_rows({"Steps": 20, "Size-1": 512, "Size-2": 768, "Hires resize-1": 0, "Hires resize-2": 0})
    [('Steps', 20), ('Size', '512x768'), ('Hires resize', '0x0')]
    >>> display_rows({"Size-1": 64})
    [('Size-1', 64)]
    """
    rows: list[tuple[str, object]] = []
    for key, value in params.items():
        if key.endswith("-2") and f"{key[:-2]}-1" in params:
            continue
        second = f"{key[:-2]}-2" if key.endswith("-1") else None
        if second is not None and second in params:
            rows.append((key[:-2], f"{value}x{params[second]}"))
        else:
            rows.append((key, value))
    return rows


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
