"""Send to…: an image and its parameters from one tab to another (gallery buttons and PNG Info)."""
from __future__ import annotations

import gradio as gr

from modules.ui.context import UiContext
from modules.ui.paste_wiring import paste_targets, updates_for
from modules.ui.results import selected_image

# target → (tab id to select, image component key in ctx.shared, tab whose fields get the parameters)
TARGETS = {"txt2img": ("txt2img", None, "txt2img"), "img2img": ("img2img", "img2img_image", "img2img"),
           "inpaint": ("img2img", "inpaint_image", "img2img"), "extras": ("extras", "extras_image", None)}


def _sender(ctx: UiContext, target: str):
    """(fn(image, infotext) → updates, outputs) for a target present on this page, else None."""
    tab_id, image_key, fields_tab = TARGETS[target]
    tabs = ctx.shared["tabs"]
    image = ctx.shared.get(image_key) if image_key else None
    if image_key and image is None:
        return None
    names, targets = paste_targets(ctx, fields_tab) if fields_tab else ([], [])
    subtab = ctx.shared.get(f"{target}_subtab")  # (tabs, id) for img2img's sub-tabs

    mode = ctx.shared.get("img2img_mode") if subtab is not None else None  # (State, inpaint controls)

    def send(picture, infotext):
        updates = [gr.Tabs(selected=tab_id)]
        if subtab is not None:
            updates.append(gr.Tabs(selected=subtab[1]))
        if mode is not None:
            updates += [subtab[1], gr.update(visible=subtab[1] == "inpaint")]
        if image is not None:
            updates.append(picture)
        return [*updates, *updates_for(ctx, names, infotext)]

    outputs = [tabs, *([subtab[0]] if subtab else []), *(list(mode) if mode else []),
               *([image] if image is not None else []), *targets]
    return send, outputs


def wire(ctx: UiContext) -> None:
    for tab in ("txt2img", "img2img", "outpaint"):
        out = ctx.shared.get(f"{tab}_results")
        if out is None:
            continue
        for target, button in out.send.items():
            sender = _sender(ctx, target)
            if sender is None:
                button.visible = False
                continue
            fn, outputs = sender

            def from_gallery(value, info, fn=fn):
                picture = selected_image(value, info)
                texts = (info or {}).get("infotexts") or [""]
                index = min(int((info or {}).get("selected", 0)), len(texts) - 1)
                return fn(picture, texts[index])

            button.click(from_gallery, inputs=[out.gallery, out.generation_info], outputs=outputs, queue=False)
    if "pnginfo" in ctx.shared:
        image, infotext, buttons = ctx.shared["pnginfo"]
        for target, button in buttons.items():
            sender = _sender(ctx, target)
            if sender is None:
                button.visible = False
                continue
            fn, outputs = sender
            button.click(lambda path, text, fn=fn: fn(path, text), inputs=[image, infotext], outputs=outputs,
                         queue=False)
