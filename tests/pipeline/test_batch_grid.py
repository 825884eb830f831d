"""A1111's batch grid: saved to the grids folder and shown first when a run makes several images."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
from PIL import Image

from modules.imaging.infotext import parse_infotext
from modules.pipeline.request import GenerationRequest
from tests.api.conftest import TINY, make_client

BASE = dict(prompt="a red circle", steps=2, width=64, height=64, seed=77, sampler_name="Euler")


def grid_files(tmp_path, kind="txt2img"):
    return sorted((tmp_path / "outputs" / f"{kind}-grids").rglob("grid-*.png"))


def test_batch_of_four_makes_a_grid_saved_with_infotext_and_shown_first(app, tmp_path):
    result = app.txt2img(GenerationRequest(**BASE, batch_size=2, n_iter=2, save_images=True))
    assert len(result.images) == 4 and result.grid is not None
    assert result.grid.size == (128, 128)  # 4 images → 2 × 2 (A1111's n_rows -1: about square)
    cells = [np.asarray(result.grid.crop((x, y, x + 64, y + 64))) for y in (0, 64) for x in (0, 64)]
    for cell, image in zip(cells, result.images):
        assert np.array_equal(cell, np.asarray(image.convert("RGB")))
    assert result.shown_images[0] is result.grid and result.shown_images[1:] == result.images
    assert result.info["index_of_first_image"] == 1 and len(result.info["infotexts"]) == 5
    [saved] = grid_files(tmp_path)
    with Image.open(saved) as on_disk:
        params = parse_infotext(on_disk.info["parameters"])
    assert str(params["Seed"]) == "77" and params["Prompt"] == "a red circle"


def test_no_grid_for_one_image_or_when_the_request_says_so(app, tmp_path):
    one = app.txt2img(GenerationRequest(**BASE, save_images=True))
    assert one.grid is None and one.shown_images == one.images and one.info["index_of_first_image"] == 0
    refused = app.txt2img(GenerationRequest(**BASE, batch_size=2, do_not_save_grid=True))
    assert refused.grid is None and len(refused.shown_images) == 2
    assert grid_files(tmp_path) == []


def test_grid_settings_rows_and_save_only(app, tmp_path):
    app.options.set("n_rows", 1)
    app.options.set("return_grid", False)
    result = app.txt2img(GenerationRequest(**BASE, batch_size=3))
    assert result.grid is None and len(result.shown_images) == 3  # not shown, but still saved (grid_save)
    [saved] = grid_files(tmp_path)
    with Image.open(saved) as on_disk:
        assert on_disk.size == (192, 64)  # one row of three


def test_api_returns_the_grid_only_when_it_saves_images(tmp_path, tiny_checkpoint):
    def images(body):
        return [Image.open(io.BytesIO(base64.b64decode(b))) for b in body["images"]]

    with make_client(tmp_path, tiny_checkpoint) as client:
        plain = client.post("/sdapi/v1/txt2img", json={**TINY, "batch_size": 2}).json()
        saved = client.post("/sdapi/v1/txt2img", json={**TINY, "batch_size": 2, "save_images": True}).json()
    assert [i.size for i in images(plain)] == [(64, 64), (64, 64)]
    assert json.loads(plain["info"])["index_of_first_image"] == 0
    assert [i.size for i in images(saved)] == [(128, 64), (64, 64), (64, 64)]
    assert json.loads(saved["info"])["index_of_first_image"] == 1
