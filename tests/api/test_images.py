"""Image fields: base64 with or without a data: prefix, and URLs only when allowed, never to private hosts."""
from __future__ import annotations

import http.server
import io
import threading

import pytest
from PIL import Image

from modules.api.images import decode_image
from modules.errors import InvalidInput


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (5, 3), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def image_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/secret")
                self.end_headers()
                return
            body = png()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_urls_follow_the_settings(image_server):
    url = image_server + "/image.png"
    with pytest.raises(InvalidInput, match="image URLs are turned off"):
        decode_image("image", url, {"api_enable_requests": False, "api_forbid_local_requests": True})
    with pytest.raises(InvalidInput, match="private network"):
        decode_image("image", url, {"api_enable_requests": True, "api_forbid_local_requests": True})
    # a user who turns the guard off on purpose may fetch from this machine
    image = decode_image("image", url, {"api_enable_requests": True, "api_forbid_local_requests": False})
    assert image.size == (5, 3)
    with pytest.raises(InvalidInput, match="redirects"):
        decode_image("image", image_server + "/moved", {"api_enable_requests": True,
                                                         "api_forbid_local_requests": False})


def test_base64_forms():
    import base64

    text = base64.b64encode(png()).decode()
    for value in (text, "data:image/png;base64," + text, text + "\n"):
        assert decode_image("init_images[0]", value, {}).size == (5, 3)
    with pytest.raises(InvalidInput, match=r"init_images\[0\]: expected a base64-encoded image"):
        decode_image("init_images[0]", "", {})


def test_the_download_goes_to_the_address_that_was_checked(image_server, monkeypatch):
    """One DNS lookup: a second answer (DNS rebinding to another host) is never asked for; Host keeps the name."""
    import socket

    port = int(image_server.rsplit(":", 1)[1])
    seen = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        seen.append(host)
        if host != "images.example":
            return real(host, *args, **kwargs)
        if len(seen) > 1:
            raise OSError("a second lookup would have answered another address")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    image = decode_image("image", f"http://images.example:{port}/image.png",
                         {"api_enable_requests": True, "api_forbid_local_requests": False})
    assert image.size == (5, 3) and seen.count("images.example") == 1
