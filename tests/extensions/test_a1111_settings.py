"""Every A1111 1.10.1 setting key exists with A1111's default and type: `shared.opts` reads it, GET /options lists
it, POST /options with its default answers 200 and config.json keeps it (compat/a1111_defaults.py)."""
from __future__ import annotations

import json

import pytest

from modules.extensions.compat.a1111_defaults import A1111_DEFAULTS, A1111_SECTIONS
from tests.api.conftest import make_client
from tests.extensions.conftest import stop

# behaviour decided elsewhere: network-reaching API settings (docs/security.md), and the checkpoint, which
# A1111 clients set by name (an empty A1111 default names no checkpoint)
NOT_POSTED = {"api_enable_requests", "api_forbid_local_requests", "sd_model_checkpoint"}
# Easel's own defaults, on purpose (docs/a1111-compat.md says why)
EASEL_DEFAULTS = {"quicksettings_list", "api_enable_requests", "sd_model_checkpoint", "upscaler_for_img2img"}


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_checkpoint):
    with make_client(tmp_path_factory.mktemp("a1111-settings"), tiny_checkpoint) as c:
        yield c
    stop(c.app_under_test)


def test_the_table_is_a1111s_whole_list():
    assert len(A1111_DEFAULTS) >= 300 and len(A1111_DEFAULTS) == sum(len(s) for s in A1111_SECTIONS.values())
    for key in ("samples_filename_pattern", "sd_checkpoint_hash", "skip_early_cond", "beta_dist_alpha",
                "live_preview_content", "interrupt_after_current", "enable_prompt_comments", "canvas_hotkey_zoom"):
        assert key in A1111_DEFAULTS


def test_every_key_is_listed_with_a1111s_default(client):
    listed = client.get("/sdapi/v1/options").json()
    missing = [k for k in A1111_DEFAULTS if k not in listed]
    assert missing == []
    differ = {k: (listed[k], v) for k, v in A1111_DEFAULTS.items()
              if k not in EASEL_DEFAULTS and json.loads(json.dumps(listed[k])) != json.loads(json.dumps(v))}
    assert differ == {}


def test_opts_reads_every_key_with_its_type(client):
    from modules import shared

    for key, default in A1111_DEFAULTS.items():
        if key in EASEL_DEFAULTS:
            continue
        value = getattr(shared.opts, key)
        assert value == default or list(value) == default, key
        assert type(value) is type(default) or isinstance(default, list), key


def test_posting_each_default_answers_200_and_is_kept(client):
    body = {k: v for k, v in A1111_DEFAULTS.items() if k not in NOT_POSTED}
    for key, value in body.items():
        answer = client.post("/sdapi/v1/options", json={key: value})
        assert answer.status_code == 200, (key, answer.text)
    assert client.post("/sdapi/v1/options", json=body).status_code == 200


def test_a1111_key_changes_are_stored_and_typed(client):
    app = client.app_under_test
    changes = {"jpeg_quality": 95, "live_preview_content": "Combined", "sd_webui_modal_lightbox_icon_opacity": 0.5,
               "hide_samplers": ["DDIM"], "skip_early_cond": 0.25}
    assert client.post("/sdapi/v1/options", json=changes).status_code == 200
    listed = client.get("/sdapi/v1/options").json()
    assert {k: listed[k] for k in changes} == changes
    stored = json.loads(app.paths.config_json.read_text())
    assert {k: stored[k] for k in changes} == changes
    bad = client.post("/sdapi/v1/options", json={"jpeg_quality": "high"})
    assert bad.status_code == 422 and "jpeg_quality" in bad.text
    bad = client.post("/sdapi/v1/options", json={"js_modal_lightbox": "yes"})
    assert bad.status_code == 422 and "js_modal_lightbox" in bad.text


def documented_keys(section_start: str, section_end: str) -> set[str]:
    """The backticked setting keys of docs/a1111-compat.md between two markers."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "a1111-compat.md").read_text()
    part = text[text.index(section_start):text.index(section_end, text.index(section_start))]
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", part))


def test_the_docs_list_of_stored_keys_holds_no_key_easel_acts_on():
    """docs/a1111-compat.md's "Stored, no effect" list may not name a key of Easel's own settings table (where a
    key goes once Easel acts on it), and every key it names is one of A1111's."""
    from modules.options.table import SETTINGS

    stored = documented_keys("**Stored, no effect**", "## The page")
    assert len(stored) > 100
    assert sorted(stored & {s.key for s in SETTINGS}) == []
    assert sorted(stored - set(A1111_DEFAULTS)) == []
