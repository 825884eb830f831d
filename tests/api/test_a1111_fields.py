"""A1111 1.10 request fields: `infotext` fills the request as A1111 does (hires fix included), `parameters` echoes
the values used, `denoising_strength` defaults to 0.75, and `force_task_id` takes A1111's own task(…) ids."""
from __future__ import annotations

import base64
import io
import json

from PIL import Image

from tests.api.conftest import TINY

HIRES_INFOTEXT = ("a red cube\nNegative prompt: blurry\nSteps: 2, Sampler: Euler, Schedule type: Karras, CFG scale: 5, "
                  "Seed: 7, Size: 64x64, Denoising strength: 0.4, Hires upscale: 1.5, Hires upscaler: Latent")


def test_infotext_fills_the_request_and_turns_hires_on(client):
    r = client.post("/sdapi/v1/txt2img", json={"infotext": HIRES_INFOTEXT, "prompt": "mine"})
    assert r.status_code == 200, r.text
    used = r.json()["parameters"]
    assert used["prompt"] == "mine" and used["negative_prompt"] == "blurry"  # set fields win over the infotext
    assert (used["steps"], used["cfg_scale"], used["seed"], used["width"], used["height"]) == (2, 5.0, 7, 64, 64)
    assert used["enable_hr"] is True and used["hr_scale"] == 1.5 and used["denoising_strength"] == 0.4
    assert used["sampler_name"] == "Euler" and used["scheduler"] == "Karras"
    image = Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0])))
    assert image.size == (96, 96)  # the hires pass ran
    assert "Hires upscale: 1.5" in json.loads(r.json()["info"])["infotexts"][0]


def test_an_explicit_enable_hr_wins_over_the_infotext(client):
    r = client.post("/sdapi/v1/txt2img", json={"infotext": HIRES_INFOTEXT, "enable_hr": False})
    assert r.status_code == 200 and r.json()["parameters"]["enable_hr"] is False
    assert Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).size == (64, 64)


def test_parameters_show_the_defaults_used(client):
    r = client.post("/sdapi/v1/txt2img", json={"prompt": "a red cube", "steps": 2, "seed": 3})
    used = r.json()["parameters"]
    assert used["sampler_name"] == "Euler" and used["width"] == used["height"] == 64  # the tiny model's native size
    assert used["denoising_strength"] == 0.75


def test_denoising_strength_defaults_to_a1111s_value(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["StableDiffusionTxt2ImgProcessingAPI"]["properties"]["denoising_strength"]["default"] == 0.75
    assert schema["StableDiffusionImg2ImgProcessingAPI"]["properties"]["denoising_strength"]["default"] == 0.75


def test_force_task_id_takes_a1111_task_ids(client):
    r = client.post("/sdapi/v1/txt2img", json={**TINY, "force_task_id": "task(txt2img-AB12CD3)"})
    assert r.status_code == 200, r.text
    for bad in ("task(a b)", "task()", "../x", "task(x"):
        r = client.post("/sdapi/v1/txt2img", json={**TINY, "force_task_id": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "force_task_id", bad
