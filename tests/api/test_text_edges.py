"""Lone UTF-16 surrogates in any JSON string are 422 naming the field, on every route that takes a body."""
from __future__ import annotations

import pytest

from tests.api.conftest import TINY

LONE = '"a \\ud800 star"'  # JSON text: a lone high surrogate, escaped as JSON allows


def post_raw(client, path: str, text: str):
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("path, body, field", [
    ("/sdapi/v1/txt2img", '{"prompt": ' + LONE + ', "steps": 2}', "prompt"),
    ("/sdapi/v1/txt2img", '{"prompt": "ok", "styles": ["x", ' + LONE + ']}', "styles[1]"),
    ("/sdapi/v1/txt2img", '{"override_settings": {' + LONE + ': 1}}', "override_settings.a \\ud800 star"),
    ("/easel/v1/jobs/txt2img", '{"negative_prompt": ' + LONE + '}', "negative_prompt"),
    ("/sdapi/v1/options", '{"outdir_txt2img_samples": ' + LONE + '}', "outdir_txt2img_samples"),
    ("/sdapi/v1/png-info", '{"image": ' + LONE + '}', "image"),
    ("/internal/progress", '{"id_task": ' + LONE + '}', "id_task"),
])
def test_lone_surrogates_are_refused_naming_the_field(client, path, body, field):
    r = post_raw(client, path, body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["field"] == field and "surrogate" in detail["msg"]
    assert client.get("/easel/v1/jobs").json() == []  # nothing was queued
    assert "\ud800" not in str(client.app_under_test.options.get("outdir_txt2img_samples"))


def test_a_proper_surrogate_pair_is_fine(client):
    body = dict(TINY, prompt="a \U0001F600 star")
    r = post_raw(client, "/sdapi/v1/txt2img", '{"prompt": "a \\ud83d\\ude00 star", "steps": 2, "width": 64, '
                 '"height": 64, "seed": 11}')
    assert r.status_code == 200, r.text
    assert r.json()["parameters"]["prompt"] == body["prompt"]
