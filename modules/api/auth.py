"""HTTP Basic authentication for every API, job and docs route (`--api-auth u:p[,u2:p2]`), and the guard that puts
every other route (extension routes, `/file=`) behind --api-auth / --gradio-auth credentials."""
from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Sequence
from http.cookies import CookieError, SimpleCookie

from modules.api.page_login import page_send

from fastapi import Depends, HTTPException
from fastapi.security import HTTPBasic, HTTPBasicCredentials


def basic_auth(credentials: Sequence[tuple[str, str]]):
    """A FastAPI dependency accepting any of `credentials`; compares in constant time."""
    scheme = HTTPBasic(auto_error=False)
    pairs = [(u.encode(), p.encode()) for u, p in credentials]

    def check(given: HTTPBasicCredentials | None = Depends(scheme)) -> str:
        if given is not None:
            user, password = given.username.encode(), given.password.encode()
            ok = False
            for good_user, good_password in pairs:  # no early exit: timing says nothing about which user
                ok |= secrets.compare_digest(user, good_user) & secrets.compare_digest(password, good_password)
            if ok:
                return given.username
        raise HTTPException(status_code=401, detail="authentication required (HTTP Basic, --api-auth)",
                            headers={"WWW-Authenticate": "Basic"})

    return check


def basic_credentials(headers: dict[bytes, bytes]) -> tuple[bytes, bytes] | None:
    """The (user, password) of an `Authorization: Basic …` header, or None.

    >>> basic_credentials({b"authorization": b"Basic YW5uOnMzOmNyZXQ="})
    (b'ann', b's3:cret')
    >>> basic_credentials({b"authorization": b"Bearer x"}), basic_credentials({})
    (None, None)
    """
    value = headers.get(b"authorization", b"")
    scheme, _, encoded = value.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


def api_user(flags, scope) -> str | None:
    """The user name of an API call under --api-auth (the router's `basic_auth` has checked it), for the infotext's
    `User` (add_user_name_to_info); None without --api-auth, where a Basic header proves nothing."""
    if not getattr(flags, "api_auth", None):
        return None
    given = basic_credentials(dict(scope.get("headers") or ()))
    return given[0].decode("utf-8", "replace") if given is not None else None


def matches_any(given: tuple[bytes, bytes] | None, pairs: Sequence[tuple[bytes, bytes]]) -> bool:
    """Constant-time check of `given` against every pair (no early exit)."""
    if given is None:
        return False
    ok = False
    for user, password in pairs:
        ok |= secrets.compare_digest(given[0], user) & secrets.compare_digest(given[1], password)
    return ok


def page_session_ok(page_app, cookie_header: bytes) -> bool:
    """True when the cookies carry a session the page's login issued (Gradio keeps them in `tokens`, named
    `access-token[-unsecure]-<cookie_id>`)."""
    tokens, cookie_id = getattr(page_app, "tokens", None), getattr(page_app, "cookie_id", None)
    if not tokens or not cookie_id:
        return False
    jar = SimpleCookie()
    try:
        jar.load(cookie_header.decode("latin-1"))
    except CookieError:
        return False
    names = (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}")
    return any(name in jar and jar[name].value in tokens for name in names)


class RouteGuard:
    """ASGI middleware around the whole server: every route that is neither the page (which has its own login) nor
    one of `open_routes` (the API routers, behind --api-auth themselves; the page's scripts when the page has no
    login) needs credentials when `pairs` is not empty.

    That covers `/file=` and every route an extension adds (`on_app_started`, at start-up or later): the route is
    looked up per request, so a route added at any time is guarded. Accepted: HTTP Basic with one of `pairs`
    (--api-auth and --gradio-auth), or the cookie of a page login. A wrong page login answers 401, not Gradio's 400.
    See docs/security.md.
    """

    def __init__(self, app, router, open_routes, pairs: Sequence[tuple[str, str]]):
        self.app, self.router = app, router
        self.open = {id(r) for r in open_routes}
        self.pairs = [(u.encode(), p.encode()) for u, p in pairs]

    def _route(self, scope):
        """The route Starlette will pick: the first full match, else the first partial one (wrong method)."""
        from starlette.routing import Match

        partial = None
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
            if match == Match.PARTIAL and partial is None:
                partial = route
        return partial

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or not self.pairs:
            return await self.app(scope, receive, send)
        route = self._route(scope)
        if route is not None and id(route) in self.open:
            return await self.app(scope, receive, send)
        if _is_page(route):  # the page has its own login
            return await self.app(scope, receive, page_send(scope, send))
        headers = dict(scope.get("headers") or ())
        if _preflight(scope, headers) or matches_any(basic_credentials(headers), self.pairs) or \
                page_session_ok(self._page_app(), headers.get(b"cookie", b"")):
            return await self.app(scope, receive, send)
        return await _refuse(scope, send)

    def _page_app(self):
        return next((r.app for r in self.router.routes if _is_page(r)), None)


def _is_page(route) -> bool:
    """The page (Gradio's app) mounted at "/"."""
    return getattr(route, "path", None) in ("", "/") and hasattr(getattr(route, "app", None), "tokens")


def _preflight(scope, headers) -> bool:
    """CORS preflights carry no credentials by design; the request that follows does."""
    return scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers


async def _refuse(scope, send):
    if scope["type"] == "websocket":
        return await send({"type": "websocket.close", "code": 1008})
    message = "authentication required (HTTP Basic with --api-auth or --gradio-auth credentials, or a page login)"
    body = json.dumps({"error": "HTTPException", "detail": message, "body": None, "errors": message}).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Basic")]})
    await send({"type": "http.response.body", "body": body})
