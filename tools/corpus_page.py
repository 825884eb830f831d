"""The browser side of tools/extension_corpus.py: Chromium through Playwright, and the page opened with every
console error and page exception sent to the row of the extension whose file it came from."""
from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def open_page(browser, easel, rows: dict):
    """The UI in Chromium; console errors and page exceptions that come from an extension's files go to its row."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    other: list[str] = []

    def owner(text: str) -> str | None:
        return next((name for name in rows if f"/{name}/" in text or f"extensions/{name}" in text), None)

    def console(msg):
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            text = f"{msg.text[:200]} ({where.rsplit('/', 1)[-1]})"
            name = owner(where) or owner(msg.text)
            (rows[name].console if name else other).append(text)

    def page_error(exc):
        text = f"{exc.name}: {exc.message[:200]}" if hasattr(exc, "name") else str(exc)[:200]
        name = owner(getattr(exc, "stack", "") or str(exc))
        (rows[name].console if name else other).append(text)

    page.on("console", console)
    page.on("pageerror", page_error)
    page.goto(easel.url + "/", timeout=300_000)
    page.wait_for_selector("#txt2img_prompt textarea", timeout=300_000)
    page.wait_for_selector("body.easel-loaded", state="attached", timeout=120_000)
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
