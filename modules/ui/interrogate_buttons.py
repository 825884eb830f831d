"""img2img's "Interrogate CLIP" and "Interrogate DeepBooru" buttons: the picture of the open sub-tab becomes the
prompt (A1111's behaviour), through App.interrogate (docs/interrogate.md)."""
from __future__ import annotations

import gradio as gr

from modules.errors import EaselError, InvalidInput
from modules.interrogate import InterrogateRequest
from modules.ui.image_inputs import as_image, editor_composite

BUTTONS = (("Interrogate CLIP", "clip", "interrogate"), ("Interrogate DeepBooru", "deepdanbooru", "deepbooru"))


def picture_of(mode: str, image, sketch, inpaint, base):
    """The picture the open sub-tab shows (the Batch tab has none)."""
    if mode == "sketch":
        return editor_composite(sketch, "sketch")
    value = {"img2img": image, "inpaint": inpaint, "inpaint_upload": base}.get(mode)
    picture = as_image(value, "image")
    if picture is None:
        raise InvalidInput("image", "no image to interrogate", "upload an image in the img2img, Sketch, Inpaint "
                                                               "or Inpaint upload tab first")
    return picture.convert("RGB")


def build(ctx, prompt, mode, images, mode_js: str | None = None) -> None:
    """Two buttons in a row; `images` are the img2img, Sketch, Inpaint and Inpaint upload inputs, in that order;
    `mode_js` puts the shown sub-tab's mode in place of `mode`'s value (modules/ui/img2img_tab.py)."""
    def make_handler(model: str):
        def interrogate(mode_value, image, sketch, inpaint, base, current):
            try:
                picture = picture_of(mode_value, image, sketch, inpaint, base)
                return ctx.app.interrogate(InterrogateRequest(picture, model)).caption
            except EaselError as e:
                gr.Warning(e.message)
                return current
        return interrogate

    with gr.Row(elem_id="img2img_interrogate_row"):
        for label, model, elem_id in BUTTONS:
            button = gr.Button(label, elem_id=elem_id, size="sm")
            button.click(make_handler(model), js=mode_js, inputs=[mode, *images, prompt], outputs=prompt,
                         concurrency_limit=None, show_progress="minimal")
