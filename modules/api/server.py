"""Mounts the API on the FastAPI app: /sdapi/v1 (A1111), /easel/v1 (jobs), docs; auth, CORS, body cap, errors.

Every router gets the same auth dependency, so no route can be added outside it (an A1111 weakness).
"""
from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from modules import cli
from modules.api import controlnet, routes_generate, routes_interrogate, routes_jobs, routes_lists
from modules.api.auth import basic_auth
from modules.api.convert import to_request
from modules.api.errors import BodyLimit, install_error_handlers
from modules.api.schema import ErrorResponse, Img2ImgApiRequest, Txt2ImgApiRequest
from modules.api.surrogates import reject_lone_surrogates
from modules.pipeline.img2img_request import Img2ImgRequest, validate_img2img
from modules.pipeline.request import GenerationRequest

API_PREFIXES = ("/sdapi/", "/easel/", "/internal/", "/controlnet/")
DEFAULT_MAX_REQUEST_MB = 40
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse}
                                                    for code in (400, 401, 404, 409, 413, 422)}


def submitters(app) -> dict:
    """kind → (API model, payload → typed request) for the async job routes."""
    scripts = routes_generate.installed_scripts
    return {"txt2img": (Txt2ImgApiRequest,
                        lambda p: to_request(p, GenerationRequest, app=app, scripts=scripts(app, "txt2img"))),
            "img2img": (Img2ImgApiRequest,
                        lambda p: to_request(p, Img2ImgRequest, app=app, scripts=scripts(app, "img2img"),
                                             validate=validate_img2img))}


def max_request_bytes(app) -> int:
    mb = app.options.data().get("api_max_request_mb", DEFAULT_MAX_REQUEST_MB)
    return int(float(mb) * 1024 * 1024)


def mount_api(server: FastAPI, app) -> None:
    """Add the API routes (before the UI is mounted at "/", which would otherwise shadow them)."""
    flags = app.flags
    deps = [Depends(basic_auth(cli.parse_credentials(flags.api_auth)))] if flags.api_auth else []
    deps.append(Depends(reject_lone_surrogates))  # after auth: strangers learn nothing about the body
    server.include_router(routes_generate.build_router(app), prefix="/sdapi/v1", dependencies=deps,
                          responses=ERROR_RESPONSES, tags=["A1111 API"])
    server.include_router(routes_lists.build_router(app), prefix="/sdapi/v1", dependencies=deps,
                          responses=ERROR_RESPONSES, tags=["A1111 API"])
    server.include_router(routes_interrogate.build_router(app), prefix="/sdapi/v1", dependencies=deps,
                          responses=ERROR_RESPONSES, tags=["A1111 API"])
    server.include_router(controlnet.build_router(app), dependencies=deps, responses=ERROR_RESPONSES,
                          tags=["ControlNet (sd-webui-controlnet API)"])
    server.include_router(routes_jobs.build_router(app, submitters(app)), prefix="/easel/v1",
                          dependencies=deps, responses=ERROR_RESPONSES, tags=["Jobs"])
    server.include_router(routes_jobs.build_internal_router(app), prefix="/internal", dependencies=deps,
                          responses=ERROR_RESPONSES, tags=["A1111 internal"])
    install_error_handlers(server)
    server.add_middleware(BodyLimit, limit=lambda: max_request_bytes(app), prefixes=API_PREFIXES)
    origins = [o.strip() for o in (flags.cors_allow_origins or "").split(",") if o.strip()]
    regex = getattr(flags, "cors_allow_origins_regex", None)
    if origins or regex:
        server.add_middleware(CORSMiddleware, allow_origins=origins, allow_origin_regex=regex,
                              allow_methods=["*"], allow_headers=["*"], allow_credentials=True)
    _mount_docs(server, deps)


def _mount_docs(server: FastAPI, deps) -> None:
    """OpenAPI at /openapi.json and Swagger UI at /docs, behind the same auth as the API.

    Swagger UI's script and stylesheet come from the swagger-ui-bundle package, not a CDN: nothing leaves the machine.
    """
    from swagger_ui_bundle import swagger_ui_path

    @server.get("/docs/assets/{name}", include_in_schema=False, dependencies=deps)
    def docs_asset(name: str) -> FileResponse:
        if name not in DOCS_ASSETS:
            raise HTTPException(status_code=404, detail=f"no docs asset {name!r}")
        return FileResponse(swagger_ui_path / name, media_type=DOCS_ASSETS[name])

    @server.get("/openapi.json", include_in_schema=False, dependencies=deps)
    def openapi() -> JSONResponse:
        return JSONResponse(server.openapi())

    @server.get("/docs", include_in_schema=False, dependencies=deps)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{server.title} API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url="/favicon.ico")
