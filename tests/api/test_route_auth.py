"""--api-auth / --gradio-auth guard every route, not only the API's: routes an extension adds (at start-up or
later) and `/file=` need credentials; a wrong page login is 401 (tests/fixtures/extensions/route_adder)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modules.api.page_login import LOGIN_FORM_SCRIPT
from tests.api.conftest import make_client

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extensions" / "route_adder"
NOTE = "/file=extensions/route_adder/images/note.txt"


def with_extension(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "extensions" / "route_adder")
    return tmp_path


def test_extension_routes_need_the_api_password(tmp_path, tiny_checkpoint):
    with make_client(with_extension(tmp_path), tiny_checkpoint, "--api-auth", "ann:s3cret") as c:
        for auth in (None, ("ann", "wrong"), ("eve", "s3cret")):
            r = c.get("/route-adder/ping", auth=auth)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Basic", auth
            assert c.post("/route-adder/add-late", auth=auth).status_code == 401
        assert c.get("/route-adder/ping", auth=("ann", "s3cret")).json() == {"pong": True}
        assert c.post("/route-adder/add-late", auth=("ann", "s3cret")).json() == {"added": True}
        assert c.get("/route-adder/late").status_code == 401  # added after start-up: guarded too
        assert c.get("/route-adder/late", auth=("ann", "s3cret")).json() == {"late": True}


def test_no_auth_flag_leaves_extension_routes_open(tmp_path, tiny_checkpoint):
    with make_client(with_extension(tmp_path), tiny_checkpoint) as c:
        assert c.get("/route-adder/ping").json() == {"pong": True}


@pytest.fixture
def page(tmp_path, tiny_checkpoint):
    from fastapi.testclient import TestClient

    import webui
    from tests.pipeline.conftest import make_app

    app = make_app(with_extension(tmp_path), tiny_checkpoint, "--gradio-auth", "pat:open-sesame")
    try:
        with TestClient(webui.create_server(app), raise_server_exceptions=False) as client:
            yield client
    finally:
        app.jobs.close()


def test_page_login_guards_extension_routes_and_files(page):
    for path in ("/route-adder/ping", NOTE):
        assert page.get(path).status_code == 401, path
        assert page.get(path, auth=("pat", "nope")).status_code == 401, path
        assert page.get(path, auth=("pat", "open-sesame")).status_code == 200, path
    assert page.post("/login", data={"username": "pat", "password": "nope"}).status_code == 401
    login_page = page.get("/")  # its form shows "Incorrect credentials" for a 400: a script maps our 401 to it
    assert login_page.status_code == 200 and LOGIN_FORM_SCRIPT.decode() in login_page.text
    assert int(login_page.headers["content-length"]) == len(login_page.content)
    assert page.get(NOTE).status_code == 401  # a failed login gives no session
    assert page.post("/login", data={"username": "pat", "password": "open-sesame"}).status_code == 200
    assert page.get(NOTE).text.startswith("a file the page may fetch")  # the login's cookie is enough
    assert page.get("/route-adder/ping").json() == {"pong": True}
