"""Width and height a request leaves unset take the checkpoint's native size (the tiny model's yaml says 64, as
the built-in model's does); sizes the request or its infotext give are kept."""
import json

from tests.fixtures.tiny_model import TINY_NATIVE_SIZE


def test_unset_size_is_the_native_size(client):
    body = client.post("/sdapi/v1/txt2img", json={"prompt": "a", "steps": 1}).json()
    info = json.loads(body["info"])
    assert (info["width"], info["height"]) == (TINY_NATIVE_SIZE, TINY_NATIVE_SIZE)
    body = client.post("/sdapi/v1/txt2img", json={"prompt": "a", "steps": 1, "width": 128}).json()
    info = json.loads(body["info"])
    assert (info["width"], info["height"]) == (128, TINY_NATIVE_SIZE)


def test_the_page_defaults_to_the_native_size(tmp_path, tiny_checkpoint):
    from modules.ui.layout import build_ui
    from tests.pipeline.conftest import make_app

    blocks = build_ui(make_app(tmp_path, tiny_checkpoint))
    fields = blocks.easel_context.tab_fields("txt2img")
    assert fields["width"].value == fields["height"].value == TINY_NATIVE_SIZE
