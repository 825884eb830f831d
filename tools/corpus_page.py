"""The browser side of tools/extension_corpus.py: Chromium through Playwright, and the page opened with every
console error and page exception sent to the row of the extension whose file it came from."""
from __future__ import annotations

import re
from pathlib import Path

ASSET = re.compile(r"easel-assets/\d+/([^?:\s/]+)")  # how Easel serves an extension's javascript/*.js
# the corpus runs offline: a request to another host fails for want of a network, which is neither the extension's
# fault nor Easel's (the infinite image browser asks GitHub for its latest release)
OFFLINE = ("net::ERR_NAME_NOT_RESOLVED", "net::ERR_INTERNET_DISCONNECTED")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def is_offline_failure(text: str, where: str, server: str) -> bool:
    """A console error of a request to another host that failed for want of a network.

    >>> is_offline_failure("Failed to load resource: net::ERR_NAME_NOT_RESOLVED", "https://api.github.com/x",
    ...                    "http://127.0.0.1:7860")
    True
    >>> is_offline_failure("Failed to load resource: net::ERR_NAME_NOT_RESOLVED", "http://127.0.0.1:7860/x",
    ...                    "http://127.0.0.1:7860")
    False
    >>> is_offline_failure("Failed to load resource: 404", "https://api.github.com/x", "http://127.0.0.1:7860")
    False
    """
    return any(code in text for code in OFFLINE) and not where.startswith(server)


def script_owners(extensions: Path) -> dict[str, str]:
    """Script file name → the extension (folder under `extensions`) that has it in javascript/ (first one wins)."""
    owners: dict[str, str] = {}
    for file in sorted(extensions.glob("*/javascript/*.*js")):
        owners.setdefault(file.name, file.parent.parent.name)
    return owners


def open_page(browser, easel, rows: dict):
    """The UI in Chromium; console errors and page exceptions that come from an extension's files go to its row
    (by its folder name in a URL, or by the name of one of its scripts where Easel serves it)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    other: list[str] = []
    offline: list[str] = []  # requests to other hosts that failed for want of a network
    owners = script_owners(easel.data_dir / "extensions")

    def owner(text: str) -> str | None:
        named = next((name for name in rows if f"/{name}/" in text or f"extensions/{name}" in text), None)
        served = next((owners[m] for m in ASSET.findall(text) if owners.get(m) in rows), None)
        return named or served

    def console(msg):
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            if is_offline_failure(msg.text, where, easel.url):
                offline.append(where)
                return
            if offline and "Failed to fetch" in msg.text:  # the script's own report of that failed request
                return
            text = f"{msg.text[:200]} ({where.rsplit('/', 1)[-1]})"
            name = owner(msg.text) or owner(where)
            (rows[name].console if name else other).append(text)

    def page_error(exc):
        text = f"{exc.name}: {exc.message[:200]}" if hasattr(exc, "name") else str(exc)[:200]
        if offline and "Failed to fetch" in text:  # that failed request, rejected in a script's promise
            return
        name = owner(getattr(exc, "stack", "") or str(exc))
        (rows[name].console if name else other).append(text)

    page.on("console", console)
    page.on("pageerror", page_error)
    page.goto(easel.url + "/", timeout=300_000)
    page.wait_for_selector("#txt2img_prompt textarea", state="attached", timeout=300_000)
    page.wait_for_selector("body.easel-loaded", state="attached", timeout=300_000)
    page.wait_for_timeout(3000)  # onUiLoaded handlers, late scripts
    return page, other



class browser_session:
    """Chromium through Playwright for the whole run (None when switched off)."""

    def __init__(self, wanted: bool):
        self.wanted, self.pw, self.browser = wanted, None, None

    def __enter__(self):
        if not self.wanted:
            return None
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        return self.browser

    def __exit__(self, *exc):
        if self.browser is not None:
            self.browser.close()
            self.pw.stop()
