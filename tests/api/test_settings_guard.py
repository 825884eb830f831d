"""Settings from requests: config-file-only keys (docs/security.md), model names checked before anything is saved,
and the checkpoint /options reports and restores after an override (A1111's behaviour, docs/api.md)."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.api.conftest import TINY, make_client


@pytest.mark.parametrize("key, value", [("api_enable_requests", True), ("api_forbid_local_requests", False),
                                        ("extensions_index_url", "http://169.254.169.254/index.json")])
def test_network_settings_are_config_file_only(client, key, value):
    before = client.get("/sdapi/v1/options").json()[key]
    r = client.post("/sdapi/v1/options", json={key: value})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == f"options.{key}"
    assert "config.json" in r.json()["errors"]
    r = client.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": {key: value}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == f"override_settings.{key}"
    assert client.get("/sdapi/v1/options").json()[key] == before
    everything = client.get("/sdapi/v1/options").json()  # clients post back all of GET /options: still fine
    assert client.post("/sdapi/v1/options", json=everything).status_code == 200


def test_the_settings_tab_cannot_change_them_either(client):
    from modules.errors import InvalidInput

    with pytest.raises(InvalidInput, match="config.json"):
        client.app_under_test.options.update({"api_enable_requests": True})


@pytest.mark.parametrize("change, field", [
    ({"sd_model_checkpoint": "missing.safetensors", "CLIP_stop_at_last_layers": 2}, "sd_model_checkpoint"),
    ({"sd_model_checkpoint": "", "CLIP_stop_at_last_layers": 2}, "sd_model_checkpoint"),
    ({"sd_vae": "../../../etc/passwd", "CLIP_stop_at_last_layers": 2}, "sd_vae"),
    ({"sd_vae": "/etc/passwd"}, "sd_vae"),
])
def test_model_settings_are_checked_before_saving(client, change, field):
    config = client.app_under_test.paths.config_json
    saved = config.read_text() if config.exists() else None
    r = client.post("/sdapi/v1/options", json=change)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, r.text
    assert (config.read_text() if config.exists() else None) == saved
    assert client.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 1
    r = client.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": change})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == f"override_settings.{field}", r.text


def test_known_vae_values_are_accepted(client):
    for value in ("None", "Automatic"):
        assert client.post("/sdapi/v1/options", json={"sd_vae": value}).status_code == 200
        assert client.get("/sdapi/v1/options").json()["sd_vae"] == value


def test_a_fresh_install_reports_and_restores_the_checkpoint_in_use(tmp_path, tiny_checkpoint):
    folder = tmp_path / "models" / "Stable-diffusion"
    folder.mkdir(parents=True)
    for file in tiny_checkpoint.parent.glob(tiny_checkpoint.stem + ".*"):  # a second checkpoint, listed after
        shutil.copy(file, folder / f"zz-other{file.suffix}")
    with make_client(tmp_path, tiny_checkpoint) as c:
        first = c.get("/sdapi/v1/sd-models").json()[0]["title"]
        assert c.app_under_test.options.get("sd_model_checkpoint") == ""
        assert c.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == first  # webuiapi's current model
        r = c.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": {"sd_model_checkpoint": "zz-other"}})
        assert json.loads(r.json()["info"])["sd_model_name"] == "zz-other"
        assert c.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == first
        r = c.post("/sdapi/v1/txt2img", json=TINY)  # restored afterwards: back to the checkpoint in use before
        assert json.loads(r.json()["info"])["sd_model_name"] == "tiny-sd1-0"
        r = c.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": {"sd_model_checkpoint": "zz-other"},
                                              "override_settings_restore_afterwards": False})
        assert c.get("/sdapi/v1/options").json()["sd_model_checkpoint"].startswith("zz-other")
