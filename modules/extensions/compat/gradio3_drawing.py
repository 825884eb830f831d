"""Gradio 3's drawing modes of `gr.Image` on the current Gradio's image editor, with Gradio 3's values.

In Gradio 3.41 (A1111 1.x) one `gr.Image` class drew as well as showed pictures, and extensions rely on what it
returned:
- `tool="sketch"` over an upload or webcam source: `{"image": picture, "mask": RGB mask, white where painted}`
  (sd-webui-controlnet's inpaint mask, many segmentation extensions);
- `tool="color-sketch"`: the picture with the coloured strokes drawn on it;
- `source="canvas"`: a drawing on a blank white canvas.
Gradio 4 moved drawing to `gr.ImageEditor`, whose value is `{background, layers, composite}`. When the shim is
installed, `gr.Image(tool=...)`/`gr.Image(source="canvas")` builds a `Gradio3DrawingImage` — an ImageEditor to the
page — whose value is converted back to Gradio 3's shape in the requested `type` and `image_mode`.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
from gradio import processing_utils
from PIL import Image

from modules.extensions.compat.gradio3 import no_pyi_stubs
from modules.ui.image_inputs import as_image, mask_from_layers

MODES = ("mask", "colour", "canvas")
SKETCH_TOOLS = {"sketch": "mask", "color-sketch": "colour"}
TYPES = ("numpy", "pil", "filepath")


def drawing_mode(kwargs: dict) -> str | None:
    """Which Gradio 3 drawing mode the `gr.Image` keywords ask for (None: a plain image).

    >>> drawing_mode({"tool": "sketch"}), drawing_mode({"source": "canvas"}), drawing_mode({"tool": "editor"})
    ('mask', 'canvas', None)
    """
    source = kwargs.get("source")
    if "canvas" in ([source] if isinstance(source, str) else list(source or [])):
        return "canvas"
    return SKETCH_TOOLS.get(kwargs.get("tool"))


def editor_to_gradio3(value: dict | None, mode: str, image_mode: str) -> Any:
    """An ImageEditor value of PIL images → what Gradio 3's `gr.Image` gave in `mode` (PIL images; None if empty)."""
    if not value:
        return None
    background, composite = value.get("background"), value.get("composite")
    if mode == "mask":
        if background is None:
            return None
        mask = mask_from_layers(value.get("layers") or [], background.size)  # L, 255 where painted
        return {"image": background.convert(image_mode), "mask": Image.merge("RGB", (mask, mask, mask))}
    picture = composite if composite is not None else background
    return None if picture is None else picture.convert(image_mode)


def gradio3_to_editor(value: Any) -> Any:
    """A value an extension hands to the component, Gradio 3 style ({"image", "mask"} or a picture) → ImageEditor's.

    The mask becomes a white brush layer, so a mask set by the extension shows as painted strokes.
    """
    if not isinstance(value, dict) or "image" not in value:
        return value
    picture = as_image(value["image"], "image")
    if picture is None:
        return None
    layers = []
    if value.get("mask") is not None:
        mask = as_image(value["mask"], "mask").convert("L").resize(picture.size)
        layer = Image.new("RGBA", picture.size, (255, 255, 255, 0))
        layer.putalpha(mask)
        layers.append(layer)
    return {"background": picture, "layers": layers, "composite": picture}


with no_pyi_stubs():  # Gradio would otherwise write a `.pyi` stub beside this file

    class Gradio3DrawingImage(gr.ImageEditor):
        """`gr.Image(tool="sketch" | "color-sketch")` or `gr.Image(source="canvas")` from Gradio 3 (see the module)."""

        def __init__(self, value: Any = None, *, mode: str, type: str = "numpy", image_mode: str = "RGB",
                     brush_radius: float | None = None, brush_color: str | None = None, **kwargs):
            if mode not in MODES:
                raise ValueError(f"drawing mode {mode!r}: one of {', '.join(MODES)}")
            if type not in TYPES:
                raise ValueError(f"gr.Image type {type!r}: one of {', '.join(TYPES)}")
            self.gradio3_mode, self.gradio3_type, self.gradio3_image_mode = mode, type, image_mode or "RGB"
            for key in ("tool", "shape", "invert_colors", "mask_opacity", "streaming"):
                kwargs.pop(key, None)
            source = kwargs.pop("source", None)
            if mode == "canvas":
                kwargs["sources"] = ()
            elif source:
                kwargs.setdefault("sources", [source] if isinstance(source, str) else list(source))
            colour = brush_color or ("#ffffff" if mode == "mask" else "#000000")
            size = int(brush_radius) if brush_radius else "auto"
            if mode == "colour":
                kwargs.setdefault("brush", gr.Brush(default_size=size, default_color=colour))
            else:
                kwargs.setdefault("brush", gr.Brush(default_size=size, colors=[colour], color_mode="fixed"))
            if mode == "mask":
                kwargs.setdefault("layers", False)
                kwargs.setdefault("transforms", ())
            # the editor keeps RGBA PIL layers (their alpha is the mask); Gradio 3's type and mode are applied after
            super().__init__(gradio3_to_editor(value), type="pil", image_mode="RGBA", **kwargs)

        def get_block_name(self) -> str:
            return "imageeditor"

        def get_block_class(self) -> str:
            return "imageeditor"

        def preprocess(self, payload):
            value = editor_to_gradio3(super().preprocess(payload), self.gradio3_mode, self.gradio3_image_mode)
            if isinstance(value, dict):
                return {key: self._format(picture) for key, picture in value.items()}
            return None if value is None else self._format(value)

        def postprocess(self, value):
            return super().postprocess(gradio3_to_editor(value))

        def _format(self, picture: Image.Image) -> Any:
            if self.gradio3_type == "pil":
                return picture
            if self.gradio3_type == "numpy":
                return np.asarray(picture)
            return processing_utils.save_pil_to_cache(picture, cache_dir=self.GRADIO_CACHE, format="png")


def new_image(cls: type, *args, **kwargs):
    """`gr.Image.__new__` under the shim: a drawing mode builds a Gradio3DrawingImage instead."""
    mode = drawing_mode(kwargs) if cls is gr.Image else None  # an extension's own Image subclass stays itself
    if mode is None:
        return object.__new__(cls)
    drawing = object.__new__(Gradio3DrawingImage)
    drawing.__init__(*args, mode=mode, **kwargs)  # not a gr.Image, so Python will not call __init__ itself
    return drawing


def inherited_new(cls: type, *args, **kwargs):
    """What `gr.Image.__new__` goes back to without the shim. CPython cannot give a class its inherited `__new__`
    back once one was assigned (deleting it leaves object.__new__ refusing the arguments), so this stands in."""
    return object.__new__(cls)
