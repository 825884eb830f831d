"""In-process API clients (FastAPI TestClient) over an App with the tiny checkpoint; `--nowebui` keeps them fast."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

import webui
from tests.pipeline.conftest import make_app


@contextmanager
def make_client(tmp_path, checkpoint, *flags):
    """A TestClient over a fresh App; on exit the App's job worker is stopped (no thread left inside torch)."""
    app = make_app(tmp_path, checkpoint, "--nowebui", *flags)
    try:
        with TestClient(webui.create_server(app), raise_server_exceptions=False) as client:
            client.app_under_test = app
            yield client
    finally:
        app.jobs.close()


@pytest.fixture
def client(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as c:
        yield c


TINY = {"prompt": "a red cube", "steps": 2, "width": 64, "height": 64, "sampler_name": "Euler", "seed": 11}
