"""The "Available" list: A1111's extension index (a JSON file at a URL the user can see and change, setting
`extensions_index_url`). Fetched only when asked, with a short timeout, so an offline machine gets a clear message
at once instead of a hanging tab. `file://` URLs work (tests, mirrors)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlparse

from modules.errors import EaselError

TIMEOUT_S = 10
MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class IndexEntry:
    name: str
    url: str
    description: str = ""
    tags: tuple[str, ...] = ()
    added: str = ""
    stars: int = 0


def normalize_url(url: str | None) -> str:
    """For comparing an index entry with an installed extension's remote.

    >>> normalize_url("https://github.com/A/b.git/"), normalize_url("git@github.com:A/b")
    ('github.com/a/b', 'github.com/a/b')
    """
    text = (url or "").strip().lower().rstrip("/")
    text = text.removesuffix(".git")
    if "://" in text:
        text = text.split("://", 1)[1]
    elif "@" in text and ":" in text:  # scp-like git@host:path
        text = text.split("@", 1)[1].replace(":", "/", 1)
    return text.split("@", 1)[-1]


def fetch_text(url: str, timeout: float = TIMEOUT_S) -> str:
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise EaselError(f"extension index URL must be http://, https:// or file://, got {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise EaselError(f"could not load the extension index from {url}: {reason}. Easel may be offline; "
                         f"you can still install from a URL or a file:// index") from None
    if len(data) > MAX_BYTES:
        raise EaselError(f"the extension index at {url} is larger than {MAX_BYTES // 2**20} MB")
    return data.decode("utf-8", errors="replace")


def parse_index(text: str, source: str = "index") -> list[IndexEntry]:
    """A1111's index.json: `{"extensions": [{"name", "url", "description", "tags", "added", "stars"}, …]}`.

    >>> parse_index('{"extensions": [{"name": "x", "url": "https://h/x", "tags": ["tab"]}, {"name": "no url"}]}')
    [IndexEntry(name='x', url='https://h/x', description='', tags=('tab',), added='', stars=0)]
    """
    try:
        data = json.loads(text)
    except ValueError as e:
        raise EaselError(f"the extension index from {source} is not valid JSON: {e}") from None
    items = data.get("extensions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise EaselError(f"the extension index from {source} has no \"extensions\" list")
    entries = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item.get("url"):
            continue
        tags = item.get("tags")
        tags = tags if isinstance(tags, list) else []
        stars = item.get("stars")
        entries.append(IndexEntry(str(item.get("name") or item["url"]), item["url"],
                                  str(item.get("description") or ""), tuple(str(t) for t in tags),
                                  str(item.get("added") or ""), stars if isinstance(stars, int) else 0))
    return entries


def url_to_load(typed: str | None, configured: str, exposed: bool) -> str:
    """The URL "Load from:" may fetch. Others can reach the UI (`--listen`, `--share`, `--server-name` without
    --enable-insecure-extension-access): only the configured one (setting extensions_index_url, set in
    config.json), so a visitor cannot make this machine fetch an address of their choosing. See docs/security.md.

    >>> url_to_load(" file:///m/index.json ", "https://h/index.json", exposed=False)
    'file:///m/index.json'
    >>> url_to_load("https://h/index.json", "https://h/index.json", exposed=True)
    'https://h/index.json'
    >>> url_to_load("http://169.254.169.254/", "https://h/index.json", exposed=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.errors.EaselError: Easel is reachable from other machines, ... --enable-insecure-extension-access ...
    """
    text = (typed or "").strip() or configured
    if exposed and text != configured.strip():
        raise EaselError(f"Easel is reachable from other machines, so the index is loaded only from "
                         f"extensions_index_url in config.json ({configured}), not from {text[:200]!r}; start Easel "
                         "with --enable-insecure-extension-access to load another URL")
    return text


def load_index(url: str, timeout: float = TIMEOUT_S) -> list[IndexEntry]:
    """The entries at `url`; EaselError with a clear message when offline, unreachable or malformed."""
    url = (url or "").strip()
    if not url:
        raise EaselError("no extension index URL: set one in Settings → Extensions (extensions_index_url)")
    return parse_index(fetch_text(url, timeout), url)
