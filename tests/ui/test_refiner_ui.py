"""The Refiner accordion on txt2img and img2img: A1111's element ids, the request it sends, and infotext paste."""
from __future__ import annotations

import shutil

import pytest

from modules.pipeline.request import GenerationRequest
from modules.ui.paste_wiring import paste_targets, updates_for
from modules.ui.requests import build_request
from tests.fixtures.tiny_model import make_tiny_checkpoint
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_checkpoint):
    from modules.ui.layout import build_ui

    data = tmp_path_factory.mktemp("ui-refiner")
    app = make_app(data, tiny_checkpoint)
    refiner = make_tiny_checkpoint(tmp_path_factory.mktemp("refiner"), seed=1, name="tiny-refiner")
    for file in refiner.parent.glob("tiny-refiner.*"):
        shutil.copy(file, data / "models" / "Stable-diffusion" / file.name)
    app.models.list_checkpoints(refresh=True)
    return app, build_ui(app)


def test_accordion_has_a1111_ids_and_request_fields(built):
    _, blocks = built
    ids = {b.elem_id for b in blocks.blocks.values() if getattr(b, "elem_id", None)}
    for tab in ("txt2img", "img2img"):
        for name in ("enable", "enable-checkbox", "checkpoint", "checkpoint_refresh", "switch_at"):
            assert f"{tab}_{name}" in ids, f"{tab}_{name}"
        fields = blocks.easel_context.tab_fields(tab)
        assert fields["refiner_switch_at"].value == 0.8 and fields["refiner_enable"].value is False
        choices = [c[0] if isinstance(c, tuple) else c for c in fields["refiner_checkpoint"].choices]
        assert choices[0] == "None" and any(c.startswith("tiny-refiner.safetensors") for c in choices)


def test_the_box_decides_whether_a_refiner_is_sent():
    values = {"prompt": "x", "refiner_checkpoint": "tiny-refiner.safetensors", "refiner_switch_at": 0.6}
    off = build_request(GenerationRequest, {**values, "refiner_enable": False})
    on = build_request(GenerationRequest, {**values, "refiner_enable": True})
    assert (off.refiner_checkpoint, off.refiner_switch_at) == (None, None)
    assert (on.refiner_checkpoint, on.refiner_switch_at) == ("tiny-refiner.safetensors", 0.6)


def test_pasting_an_infotext_opens_the_refiner_with_the_file_title(built):
    app, blocks = built
    ctx = blocks.easel_context
    names, _ = paste_targets(ctx, "txt2img")
    title = app.models.find_checkpoint("tiny-refiner").title
    short = title.replace(".safetensors", "")  # A1111 writes `name [shorthash]`
    text = f"a cat\nSteps: 4, Seed: 1, Size: 64x64, Refiner: {short}, Refiner switch at: 0.6"
    updates = dict(zip(names, updates_for(ctx, names, text)))
    assert updates["refiner_checkpoint"]["value"] == title
    assert updates["refiner_switch_at"]["value"] == 0.6 and updates["refiner_enable"]["value"] is True
    plain = dict(zip(names, updates_for(ctx, names, "a cat\nSteps: 4, Seed: 1, Size: 64x64")))
    assert plain["refiner_enable"]["value"] is False and "value" not in plain["refiner_checkpoint"]
