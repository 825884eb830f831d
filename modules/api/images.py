"""Images in API requests: base64 (a `data:` prefix allowed) or, when a setting allows it, an http(s) URL that
must not point at this machine or a private network. Responses carry bare base64 PNG."""
from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from PIL import Image

from modules.errors import EaselError, InvalidInput
from modules.imaging.metadata import open_image

MAX_URL_BYTES = 50 * 1024 * 1024
URL_TIMEOUT_S = 20


def strip_data_prefix(text: str) -> str:
    """`data:image/png;base64,XXXX` → `XXXX`.

    >>> strip_data_prefix("data:image/png;base64,AAAA"), strip_data_prefix("AAAA")
    ('AAAA', 'AAAA')
    """
    return text.split(",", 1)[1] if text.startswith("data:") and "," in text else text


def is_public_address(address: str) -> bool:
    """Only global unicast addresses may be fetched (no loopback, private, link-local, reserved, multicast).

    >>> [is_public_address(a) for a in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "8.8.8.8")]
    [False, False, False, False, True]
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(field: str, host: str, port: int, forbid_local: bool) -> str:
    """The one address a URL's host is fetched from: resolved once here, and the connection goes to exactly this
    address, so a DNS answer that changes between the check and the download (rebinding) cannot reach this machine
    or a private network."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise InvalidInput(field, f"cannot resolve {host}: {e}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise InvalidInput(field, f"cannot resolve {host}")
    if forbid_local and not all(is_public_address(a) for a in addresses):
        raise InvalidInput(field, f"{host} is this machine or a private network address",
                           "a public URL (setting api_forbid_local_requests)")
    return addresses[0]


def pinned_connection(scheme: str, host: str, port: int, address: str) -> http.client.HTTPConnection:
    """An HTTP(S) connection to `host` whose socket goes to `address`; the Host header, SNI and the certificate
    check still use `host`."""
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=URL_TIMEOUT_S, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=URL_TIMEOUT_S)

    def connect_to_checked(_address, timeout=None, source_address=None):
        return socket.create_connection((address, port), timeout, source_address)

    # http.client's hook for opening the socket; private, so its type stubs leave it out
    conn._create_connection = connect_to_checked  # type: ignore[attr-defined]
    return conn


def fetch_url(field: str, url: str, forbid_local: bool) -> bytes:
    """Download an image URL the user gave, refusing this machine and private networks when `forbid_local`.
    Redirects are refused (the target could be a private host)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(field, f"{url!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput(field, f"{url!r} has an invalid port") from None
    address = resolve(field, parts.hostname, port, forbid_local)
    conn = pinned_connection(parts.scheme, parts.hostname, port, address)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", target, headers={"User-Agent": "Easel"})
        response = conn.getresponse()
        if 300 <= response.status < 400:
            raise InvalidInput(field, f"the URL redirects to {response.getheader('Location')}",
                               "a URL that serves the image directly")
        if response.status != 200:
            raise InvalidInput(field, f"cannot download {url}: HTTP {response.status} {response.reason}")
        data = response.read(MAX_URL_BYTES + 1)
    except EaselError:
        raise
    except Exception as e:  # network errors are the user's URL's problem
        raise InvalidInput(field, f"cannot download {url}: {e}") from None
    finally:
        conn.close()
    if len(data) > MAX_URL_BYTES:
        raise InvalidInput(field, "the downloaded file is larger than 50 MB")
    return data


def decode_image(field: str, value, opts) -> Image.Image:
    """A request image field → PIL image; `opts` supplies api_enable_requests / api_forbid_local_requests."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "expected a base64-encoded image")
    if value.startswith(("http://", "https://")):
        if not opts.get("api_enable_requests"):
            raise InvalidInput(field, "image URLs are turned off", "base64 data, or enable the setting "
                               "'Allow http:// and https:// requests' (api_enable_requests)")
        data = fetch_url(field, value, bool(opts.get("api_forbid_local_requests")))
    else:
        try:
            data = base64.b64decode(strip_data_prefix(value).strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(field, "not valid base64", "a base64-encoded PNG, JPEG or WebP image") from None
    try:
        return open_image(data)
    except EaselError as e:
        raise InvalidInput(field, e.message, "a PNG, JPEG or WebP image") from None


def encode_png(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")
