"""Fixes to Gradio's page code (modules/ui/gradio_page_fixes.py): they apply to the installed Gradio, are served
at the URL of the file they fix, and a file they do not fit is served as Gradio ships it."""
from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient

from modules.ui import gradio_page_fixes as fixes


def test_every_patch_applies_to_the_installed_gradio():
    patched = fixes.patched_assets(fixes.gradio_assets_dir())
    assert len(patched) == len(fixes.PATCHES), "a Gradio page fix no longer fits this Gradio version"
    [(name, text)] = patched.items()
    assert name.startswith("Blocks-") and fixes.UNCHANGED_STATUSES.replace in text
    assert fixes.UNCHANGED_STATUSES.find not in text


def test_the_patched_file_is_served_ahead_of_gradio(tmp_path):
    original = "class D{" + fixes.UNCHANGED_STATUSES.find + "}"
    (tmp_path / "Blocks-abc123.js").write_text(original)
    (tmp_path / "Other-x.js").write_text("untouched")
    server = FastAPI()
    assert list(fixes.mount(server, tmp_path)) == ["Blocks-abc123.js"]
    client = TestClient(server)
    served = client.get("/assets/Blocks-abc123.js")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
    assert served.text == "class D{" + fixes.UNCHANGED_STATUSES.replace + "}"
    assert client.get("/assets/Other-x.js").status_code == 404  # left to Gradio's own route


def test_a_file_the_patch_does_not_fit_is_left_alone_and_logged(tmp_path, caplog):
    (tmp_path / "Blocks-new.js").write_text("class D{async update_loading_stati_state(){}}")
    with caplog.at_level(logging.WARNING):
        assert fixes.patched_assets(tmp_path) == {}
    assert "not applied" in caplog.text and "push only changed loading statuses" in caplog.text
