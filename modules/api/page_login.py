"""The page's login (Gradio's, with --gradio-auth) answers a wrong password with 401, HTTP's "not authenticated",
instead of Gradio's 400, so clients and proxies see an auth failure; docs/security.md.

Gradio's login form shows "Incorrect credentials" only for a 400, so the login page gets a few lines of script that
show it the 401 as before. Both are ASGI `send` wrappers the route guard (modules/api/auth.py) puts around the page.
"""
from __future__ import annotations

# Seen by the login form only: a 401 from POST …/login reaches it as the 400 it expects.
LOGIN_FORM_SCRIPT = (b"<script>(()=>{const f=window.fetch;window.fetch=async(...a)=>{const r=await f(...a);"
                     b"const u=String((a[0]&&a[0].url)||a[0]);return r.status===401&&/\\/login\\/?$/.test(u)?"
                     b"new Response(await r.text(),{status:400,headers:r.headers}):r;};})();</script>")


def page_send(scope, send):
    """The `send` for a request to the page: POST /login gets 401 for a wrong login; the HTML page gets the
    script; anything else is passed through untouched."""
    if scope["type"] != "http":
        return send
    path, method = scope["path"].rstrip("/"), scope.get("method")
    if method == "POST" and path == "/login":
        return _status_401(send)
    if method == "GET" and path == "":
        return _with_script(send)
    return send


def _status_401(send):
    async def wrapped(message):
        if message["type"] == "http.response.start" and message["status"] == 400:
            message = {**message, "status": 401}
        await send(message)

    return wrapped


def _with_script(send):
    """Buffers an HTML answer (the page is small), adds the script before </head> and fixes Content-Length."""
    start: dict | None = None
    chunks: list[bytes] = []

    async def wrapped(message):
        nonlocal start
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers") or ())
            if not headers.get(b"content-type", b"").startswith(b"text/html"):
                return await send(message)
            start = message
            return None
        if start is None or message["type"] != "http.response.body":
            return await send(message)
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return None
        body = b"".join(chunks).replace(b"</head>", LOGIN_FORM_SCRIPT + b"</head>", 1)
        headers = [(k, v) for k, v in start.get("headers") or () if k.lower() != b"content-length"]
        await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return wrapped
