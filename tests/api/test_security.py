"""--api-auth guards every API, job and docs route; CORS only as configured; credentials never echoed."""
from __future__ import annotations

import pytest

from tests.api.conftest import make_client

ROUTES = [("GET", "/sdapi/v1/options"), ("POST", "/sdapi/v1/txt2img"), ("GET", "/sdapi/v1/progress"),
          ("POST", "/sdapi/v1/interrupt"), ("GET", "/easel/v1/jobs"), ("POST", "/easel/v1/jobs/txt2img"),
          ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/sdapi/v1/cmd-flags"), ("POST", "/internal/progress")]


@pytest.fixture
def authed(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint, "--api-auth", "ann:s3cret,bob:pa:ss") as c:
        yield c


def test_every_route_needs_the_password(authed):
    schema_paths = authed.get("/openapi.json", auth=("ann", "s3cret")).json()["paths"]
    routes = ROUTES + [("GET", p) for p, ops in schema_paths.items() if "get" in ops and "{" not in p]
    for method, path in routes:
        for auth in (None, ("ann", "wrong"), ("eve", "s3cret")):
            r = authed.request(method, path, auth=auth, json={})
            assert r.status_code == 401, (method, path, auth)
            assert r.headers["www-authenticate"] == "Basic"
    assert authed.get("/sdapi/v1/options", auth=("ann", "s3cret")).status_code == 200
    assert authed.get("/sdapi/v1/options", auth=("bob", "pa:ss")).status_code == 200


def test_cmd_flags_do_not_leak_credentials(authed):
    flags = authed.get("/sdapi/v1/cmd-flags", auth=("ann", "s3cret")).json()
    assert "s3cret" not in str(flags) and flags["nowebui"] is True


def test_openapi_documents_the_a1111_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/sdapi/v1/txt2img", "/sdapi/v1/progress", "/sdapi/v1/options", "/sdapi/v1/png-info",
                 "/sdapi/v1/sd-models", "/easel/v1/jobs/txt2img", "/easel/v1/jobs/{job_id}/events"):
        assert path in paths, path
    body = client.get("/openapi.json").json()["components"]["schemas"]["StableDiffusionTxt2ImgProcessingAPI"]
    assert body["properties"]["steps"]["default"] == 50 and body["properties"]["sampler_index"]["default"] == "Euler"
    assert client.get("/docs").status_code == 200


def test_docs_page_needs_nothing_from_the_internet(client):
    import re

    page = client.get("/docs").text
    sources = re.findall(r'(?:src|href)=["\']([^"\']+)', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000
    assert client.get("/docs/assets/..%2Fsecrets").status_code == 404


def test_no_cors_unless_configured(client, tmp_path, tiny_checkpoint):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    r = client.options("/sdapi/v1/txt2img", headers=headers)
    assert "access-control-allow-origin" not in r.headers
    with make_client(tmp_path / "cors", tiny_checkpoint, "--cors-allow-origins", "https://krita.example") as c:
        ok = c.options("/sdapi/v1/txt2img", headers={**headers, "Origin": "https://krita.example"})
        assert ok.headers["access-control-allow-origin"] == "https://krita.example"
        bad = c.options("/sdapi/v1/txt2img", headers=headers)
        assert "access-control-allow-origin" not in bad.headers
