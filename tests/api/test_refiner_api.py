"""`refiner_checkpoint` / `refiner_switch_at` through /sdapi/v1/txt2img and img2img: an unknown name is a 422 naming
the field and the valid titles, before any job runs; a known one switches and writes A1111's infotext keys, which
the `infotext` field carries back."""
from __future__ import annotations

import base64
import io
import json
import shutil

import pytest
from PIL import Image

from tests.api.conftest import TINY, make_client
from tests.fixtures.tiny_model import make_tiny_checkpoint


@pytest.fixture
def client(tmp_path, tiny_checkpoint):
    other = make_tiny_checkpoint(tmp_path / "other", seed=1, name="tiny-refiner")
    with make_client(tmp_path / "data", tiny_checkpoint) as c:
        for file in other.parent.glob("tiny-refiner.*"):
            shutil.copy(file, tmp_path / "data" / "models" / "Stable-diffusion" / file.name)
        yield c


def png_b64(size=(64, 64)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


MAIN = {**TINY, "override_settings": {"sd_model_checkpoint": "tiny-sd1-0"}}


@pytest.mark.parametrize("route, extra", [("txt2img", {}), ("img2img", {"init_images": [png_b64()]})])
def test_unknown_refiner_is_422_listing_the_checkpoints(client, route, extra):
    r = client.post(f"/sdapi/v1/{route}", json={**MAIN, **extra, "refiner_checkpoint": "no-such-model",
                                                "refiner_switch_at": 0.5})
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert body["detail"][0]["field"] == "refiner_checkpoint"
    assert "no-such-model" in body["errors"] and "tiny-refiner.safetensors" in body["errors"]
    assert "tiny-sd1-0.safetensors" in body["errors"]


def test_switch_at_outside_0_to_1_is_422(client):
    r = client.post("/sdapi/v1/txt2img", json={**MAIN, "refiner_checkpoint": "tiny-refiner", "refiner_switch_at": 2})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "refiner_switch_at"


def test_a_refiner_switches_and_its_infotext_comes_back(client):
    r = client.post("/sdapi/v1/txt2img", json={**MAIN, "refiner_checkpoint": "tiny-refiner",
                                               "refiner_switch_at": 0.5})
    assert r.status_code == 200, r.text[:300]
    infotext = json.loads(r.json()["info"])["infotexts"][0]
    assert "Refiner: tiny-refiner [" in infotext and "Refiner switch at: 0.5" in infotext
    plain = client.post("/sdapi/v1/txt2img", json=MAIN).json()
    assert plain["images"][0] != r.json()["images"][0]
    again = client.post("/sdapi/v1/txt2img", json={**MAIN, "infotext": infotext})
    used = again.json()["parameters"]
    assert used["refiner_checkpoint"].startswith("tiny-refiner [") and used["refiner_switch_at"] == 0.5
    assert again.json()["images"][0] == r.json()["images"][0]
