"""In-process API clients (FastAPI TestClient) over an App with the tiny checkpoint; `--nowebui` keeps them fast."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import webui
from tests.pipeline.conftest import make_app


def make_client(tmp_path, checkpoint, *flags) -> TestClient:
    app = make_app(tmp_path, checkpoint, "--nowebui", *flags)
    return TestClient(webui.create_server(app), raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as c:
        yield c
    c.app_state = None


TINY = {"prompt": "a red cube", "steps": 2, "width": 64, "height": 64, "sampler_name": "Euler", "seed": 11}
