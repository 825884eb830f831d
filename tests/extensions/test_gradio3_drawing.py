"""Gradio 3's drawing `gr.Image` (tool="sketch", tool="color-sketch", source="canvas") under the shim: the page
gets Gradio's image editor, the extension's function gets Gradio 3's values."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData
from PIL import Image

from modules.extensions.compat import gradio3
from modules.extensions.compat.gradio3_drawing import (Gradio3DrawingImage, drawing_mode, editor_to_gradio3,
                                                       gradio3_to_editor)

pytestmark = pytest.mark.usefixtures("plain_gradio")


def _picture() -> Image.Image:
    return Image.new("RGB", (16, 8), (200, 30, 30))


def _stroke(size=(16, 8), box=(2, 1, 6, 4)) -> Image.Image:
    """A brush layer: transparent, with opaque paint inside `box`."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), box)
    return layer


@pytest.mark.parametrize("kwargs, mode", [
    ({"tool": "sketch"}, "mask"), ({"source": "upload", "tool": "sketch"}, "mask"),
    ({"tool": "color-sketch"}, "colour"), ({"source": "canvas"}, "canvas"),
    ({"source": ["canvas"], "tool": "sketch"}, "canvas"),
    ({"tool": "editor"}, None), ({"tool": "select"}, None), ({}, None), ({"source": "webcam"}, None),
])
def test_drawing_mode_from_gradio3_keywords(kwargs, mode):
    assert drawing_mode(kwargs) == mode


def test_sketch_value_is_the_picture_and_an_rgb_mask_white_where_painted():
    value = {"background": _picture().convert("RGBA"), "layers": [_stroke()], "composite": None}
    out = editor_to_gradio3(value, "mask", "RGB")
    assert set(out) == {"image", "mask"}
    assert out["image"].mode == "RGB" and out["image"].getpixel((0, 0)) == (200, 30, 30)
    assert out["mask"].mode == "RGB" and out["mask"].size == (16, 8)
    assert out["mask"].getpixel((3, 2)) == (255, 255, 255) and out["mask"].getpixel((10, 6)) == (0, 0, 0)
    assert editor_to_gradio3(value, "mask", "L")["image"].mode == "L"


def test_colour_sketch_and_canvas_give_the_composite_and_empty_gives_none():
    composite = Image.new("RGBA", (16, 8), (0, 0, 255, 255))
    value = {"background": _picture(), "layers": [_stroke()], "composite": composite}
    assert editor_to_gradio3(value, "colour", "RGB").getpixel((0, 0)) == (0, 0, 255)
    assert editor_to_gradio3({"background": _picture(), "layers": [], "composite": None}, "canvas",
                             "RGB").getpixel((0, 0)) == (200, 30, 30)
    assert editor_to_gradio3(None, "mask", "RGB") is None
    assert editor_to_gradio3({"background": None, "layers": [], "composite": None}, "mask", "RGB") is None


def test_a_gradio3_value_set_by_the_extension_shows_its_mask_as_a_brush_layer():
    mask = np.zeros((8, 16, 3), dtype=np.uint8)  # [H, W, 3]
    mask[1:4, 2:6] = 255
    editor = gradio3_to_editor({"image": np.asarray(_picture()), "mask": mask})
    assert editor["background"].size == (16, 8) and len(editor["layers"]) == 1
    alpha = np.asarray(editor["layers"][0])[..., 3]  # [H, W]
    assert alpha[2, 3] == 255 and alpha[6, 10] == 0
    back = editor_to_gradio3({**editor, "background": editor["background"].convert("RGBA")}, "mask", "RGB")
    assert np.array_equal(np.asarray(back["mask"]), mask)  # the round trip keeps the mask
    plain = _picture()
    assert gradio3_to_editor(plain) is plain and gradio3_to_editor({"image": None}) is None


def _payload(tmp_path, layers) -> EditorData:
    def saved(image, name):
        path = tmp_path / name
        image.save(path)
        return FileData(path=str(path))

    picture = _picture()
    return EditorData(background=saved(picture, "bg.png"), composite=saved(picture, "composite.png"),
                      layers=[saved(layer, f"layer{i}.png") for i, layer in enumerate(layers)])


def test_gr_image_sketch_builds_an_editor_and_gives_numpy_image_and_mask(shim, tmp_path):
    seen = []
    with gr.Blocks() as demo:
        image = gr.Image(source="upload", type="numpy", tool="sketch", brush_radius=20, brush_color="#ff0000",
                         mirror_webcam=False, elem_id="cn_image").style(height=242)
        plain = gr.Image(source="upload", tool="editor", type="pil")
        image.upload(lambda v: seen.append(v), image, None)
    assert isinstance(image, Gradio3DrawingImage) and isinstance(image, gr.ImageEditor)
    assert type(plain) is gr.Image and plain.type == "pil"
    assert (image.elem_id, image.height, list(image.sources)) == ("cn_image", 242, ["upload"])
    assert image.brush.default_size == 20 and image.brush.colors == ["#ff0000"] and image.layers.disabled
    types = {c["id"]: c["type"] for c in demo.get_config_file()["components"]}
    assert types[image._id] == "imageeditor" and types[plain._id] == "image"

    out = image.preprocess(_payload(tmp_path, [_stroke()]))
    assert out["image"].shape == (8, 16, 3) and out["mask"].shape == (8, 16, 3)
    assert out["mask"][2, 3].tolist() == [255, 255, 255] and out["mask"][6, 10].tolist() == [0, 0, 0]
    assert out["mask"].max() == 255 and (out["mask"] > 0).sum() == 3 * 4 * 3
    assert image.preprocess(None) is None
    assert image.postprocess({"image": np.asarray(_picture()), "mask": out["mask"]}).layers


def test_colour_sketch_and_canvas_in_pil_and_filepath(shim, tmp_path):
    with gr.Blocks():
        colour = gr.Image(tool="color-sketch", type="pil", image_mode="RGBA")
        canvas = gr.Image(source="canvas", type="filepath")
    assert colour.gradio3_mode == "colour" and list(canvas.sources) == []
    drawn = colour.preprocess(_payload(tmp_path, [_stroke()]))
    assert isinstance(drawn, Image.Image) and drawn.mode == "RGBA"
    path = canvas.preprocess(_payload(tmp_path, []))
    assert isinstance(path, str) and Image.open(path).size == (16, 8)


def test_without_the_shim_gr_image_is_gradio_s_own_again():
    gradio3.install_gradio3_shim()
    gradio3.uninstall_gradio3_shim()
    with gr.Blocks():
        assert type(gr.Image(type="pil")) is gr.Image
        with pytest.raises(TypeError):
            gr.Image(tool="sketch")
