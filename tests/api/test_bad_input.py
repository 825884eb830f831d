"""User mistakes answer 4xx with A1111's body keys and a message naming the field; the server keeps serving."""
from __future__ import annotations

import pytest

from tests.api.conftest import TINY

KEYS = {"error", "detail", "body", "errors"}


@pytest.mark.parametrize("change, field, words", [
    ({"width": 7}, "width", "multiple of 8"),
    ({"steps": 0}, "steps", "greater than or equal to 1"),
    ({"steps": "many"}, "steps", "integer"),
    ({"prompt": ["not", "text"]}, "prompt", "string"),
    ({"styles": "one"}, "styles", "list"),
    ({"override_settings": {"no_such_setting": 1}}, "override_settings.no_such_setting", "unknown setting"),
    ({"override_settings": {"CLIP_stop_at_last_layers": "two"}}, "CLIP_stop_at_last_layers", "expected int"),
    ({"override_settings": {"sd_model_checkpoint": "missing.safetensors"}}, "sd_model_checkpoint", "not found"),
    ({"override_settings": {"outdir_txt2img_samples": "../../elsewhere"}}, "outdir_txt2img_samples", "outside"),
    ({"sampler_name": "Eulr"}, "sampler_name", "unknown sampler"),
    ({"scheduler": "sideways"}, "scheduler", "unknown scheduler"),
    ({"script_name": "no such script"}, "script_name", "unknown script"),
    ({"script_name": "x/y/z plot", "script_args": [0] * 99}, "script_args", "takes"),
    ({"alwayson_scripts": {"ADetailer": {"args": []}}}, "alwayson_scripts.ADetailer", "unknown always-on"),
    ({"restore_faces": True}, "restore_faces", "not available"),
    ({"enable_hr": True, "denoising_strength": 0.5, "hr_checkpoint_name": "other.safetensors"}, "hr_checkpoint_name",
     "Use same checkpoint"),
    ({"infotext": "x\nSteps: 2, CFG scale: lots, Size: 64x64"}, "infotext", "CFG scale"),
])
def test_txt2img_mistakes_are_422_naming_the_field(client, change, field, words):
    r = client.post("/sdapi/v1/txt2img", json={**TINY, **change})
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert set(body) >= KEYS and field in body["errors"] and words in body["errors"]
    assert isinstance(body["detail"], list) and field.split(".")[-1] in body["detail"][0]["field"]


def test_broken_json_and_wrong_body_type_are_422(client):
    r = client.post("/sdapi/v1/txt2img", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and set(r.json()) >= KEYS
    assert client.post("/sdapi/v1/txt2img", json=[1, 2]).status_code == 422


@pytest.mark.parametrize("image, words", [
    ("%%% not base64 %%%", "not valid base64"),
    ("aGVsbG8gd29ybGQ=", "not an image"),
    ("", None),
])
def test_png_info_with_garbage(client, image, words):
    r = client.post("/sdapi/v1/png-info", json={"image": image})
    if words is None:
        assert r.status_code == 200 and r.json()["info"] == ""
    else:
        assert r.status_code == 422 and "image" in r.json()["errors"] and words in r.json()["errors"]


def test_image_urls_are_off_by_default_and_never_local(client, tmp_path, tiny_checkpoint):
    import json

    from tests.api.conftest import make_client

    r = client.post("/sdapi/v1/png-info", json={"image": "http://127.0.0.1:1/x.png"})
    assert r.status_code == 422 and "api_enable_requests" in r.json()["errors"]
    r = client.post("/sdapi/v1/options", json={"api_enable_requests": True})  # config.json only (docs/security.md)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "options.api_enable_requests"
    data_dir = tmp_path / "urls-on"
    data_dir.mkdir()
    (data_dir / "config.json").write_text(json.dumps({"api_enable_requests": True}))
    with make_client(data_dir, tiny_checkpoint) as on:
        for url in ("http://127.0.0.1:1/x.png", "http://localhost/x.png", "http://10.0.0.1/x.png",
                    "http://169.254.169.254/latest/meta-data"):
            r = on.post("/sdapi/v1/png-info", json={"image": url})
            assert r.status_code == 422 and "private network" in r.json()["errors"], url
        r = on.post("/sdapi/v1/png-info", json={"image": "file:///etc/passwd"})
        assert r.status_code == 422


def test_a_50_mb_body_is_refused_and_the_server_goes_on(client):
    big = "A" * (50 * 1024 * 1024)
    r = client.post("/sdapi/v1/png-info", content=b'{"image": "' + big.encode() + b'"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than 40 MB" in r.json()["detail"] and set(r.json()) >= KEYS
    assert client.post("/sdapi/v1/txt2img", json=TINY).status_code == 200


def test_unknown_routes_and_jobs_are_404_with_the_keys(client):
    r = client.get("/sdapi/v1/no-such-route")
    assert r.status_code == 404 and set(r.json()) >= KEYS
    r = client.get("/easel/v1/jobs/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_options_are_validated_all_or_nothing(client):
    r = client.post("/sdapi/v1/options", json={"CLIP_stop_at_last_layers": 2, "samples_format": "bmp"})
    assert r.status_code == 422 and "samples_format" in r.json()["errors"]
    assert client.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 1
    r = client.post("/sdapi/v1/options", json={"outdir_txt2img_samples": "/etc"})
    assert r.status_code == 422 and "outside the data dir" in r.json()["errors"]
    r = client.post("/sdapi/v1/options", json={"sd_model_checkpoint": "nope"})
    assert r.status_code == 422 and "tiny-sd1-0" in r.json()["errors"]
