"""Error answers with A1111's body keys (`error`, `detail`, `body`, `errors`), and a cap on request body size.

Validation failures are 422 with the field and the reason; other user mistakes keep their 4xx; anything else is a
bug, answered 500 with a short message (the traceback goes to the log, not to the client).
"""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modules.errors import EaselError, InvalidInput

log = logging.getLogger(__name__)
BODY_ECHO_LIMIT = 2000  # characters of the request body echoed back in `body`


def error_body(error: str, detail, errors, body=None) -> dict:
    return {"error": error, "detail": detail, "body": body, "errors": errors}


def _field_of(loc) -> str:
    """`("body", "override_settings", "x")` → `override_settings.x`."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def validation_details(exc: RequestValidationError) -> list[dict]:
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", ""),
             "field": _field_of(e.get("loc", ()))} for e in exc.errors()]


def _echo(body) -> str | None:
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text[:BODY_ECHO_LIMIT]


def invalid_input_response(exc: InvalidInput) -> JSONResponse:
    detail = [{"loc": ["body", *exc.field.split(".")], "msg": exc.problem + (f" (valid: {exc.valid})"
                                                                             if exc.valid else ""),
               "type": "value_error", "field": exc.field}]
    return JSONResponse(error_body("InvalidInput", detail, exc.message), status_code=422)


def install_error_handlers(server: FastAPI) -> None:
    @server.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        details = validation_details(exc)
        message = "; ".join(f"{d['field']}: {d['msg']}" for d in details)
        return JSONResponse(error_body("RequestValidationError", details, message, _echo(exc.body)),
                            status_code=422)

    @server.exception_handler(InvalidInput)
    async def on_invalid(request: Request, exc: InvalidInput):
        return invalid_input_response(exc)

    @server.exception_handler(EaselError)
    async def on_user_error(request: Request, exc: EaselError):
        return JSONResponse(error_body(type(exc).__name__, exc.message, exc.message), status_code=exc.status_code)

    @server.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body("HTTPException", exc.detail, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @server.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception):
        log.exception("API error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(type(exc).__name__, "internal error (see the server log)", str(exc)),
                            status_code=500)


class BodyLimit:
    """ASGI middleware: request bodies on `prefixes` larger than `limit()` bytes get 413 without being read."""

    def __init__(self, app, limit, prefixes: tuple[str, ...]):
        self.app, self.limit, self.prefixes = app, limit, prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)
        limit = self.limit()
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._refuse(send, limit)
        if length is not None:
            return await self.app(scope, receive, send)
        chunks, size = [], 0  # no length given (chunked): read up to the limit, then replay
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._refuse(send, limit)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, limit: int):
        mb = limit / (1024 * 1024)
        message = f"request body is larger than {mb:g} MB (setting api_max_request_mb)"
        payload = json.dumps(error_body("RequestTooLarge", message, message)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
