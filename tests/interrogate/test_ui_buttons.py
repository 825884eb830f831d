"""img2img's Interrogate buttons: the open sub-tab's picture goes to App.interrogate and the caption to the prompt;
a missing picture or model leaves the prompt as it was."""
from __future__ import annotations

import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.ui.interrogate_buttons import picture_of
from tests.interrogate.conftest import write_deepbooru
from tests.pipeline.conftest import make_app


def test_picture_of_takes_the_open_sub_tab():
    red, blue = Image.new("RGBA", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    assert picture_of("img2img", red, None, blue, None).getpixel((0, 0)) == (255, 0, 0)
    assert picture_of("inpaint", red, None, blue, None).getpixel((0, 0)) == (0, 0, 255)
    assert picture_of("sketch", None, {"composite": blue}, None, None).mode == "RGB"
    with pytest.raises(InvalidInput, match="no image to interrogate"):
        picture_of("inpaint_upload", red, None, blue, None)
    with pytest.raises(InvalidInput):
        picture_of("batch", red, None, blue, None)


def click_handler(blocks, elem_id):
    button = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == elem_id)
    return next(f.fn for f in blocks.fns.values() if any(t[0] == button._id for t in f.targets))


def test_deepbooru_button_fills_the_prompt(tmp_path, tiny_checkpoint, monkeypatch):
    import gradio as gr

    from modules.ui.layout import build_ui

    app = make_app(tmp_path, tiny_checkpoint)
    try:
        handler = click_handler(build_ui(app), "deepbooru")
        warnings = []
        monkeypatch.setattr(gr, "Warning", warnings.append)
        image = Image.new("RGB", (16, 16), "green")
        assert handler("img2img", image, None, None, None, "old prompt") == "old prompt"
        assert "torch_deepdanbooru" in warnings[0]
        write_deepbooru(tmp_path / "models", {"green_background": 0.8, "cat": 0.1})
        assert handler("img2img", image, None, None, None, "old prompt") == "green background"
    finally:
        app.jobs.close()
