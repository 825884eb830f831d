"""Small Playwright helpers for Easel's page (element ids are A1111's)."""
from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from PIL import Image


def set_number(page, elem_id: str, value) -> None:
    """Type into a slider's or number box's input and leave it, as a user does."""
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Tab")
    page.wait_for_function(
        "([id, v]) => { const e = document.querySelector(`#${id} input[type=number]`); return e && e.value == v; }",
        arg=[elem_id, str(value)])


def number_value(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} input[type=number]").first.input_value()


def select_tab(page, label: str) -> None:
    page.locator("#tabs button[role=tab]", has_text=label).first.click()


def small_txt2img(page, prompt: str, seed: int, steps: int = 4) -> None:
    """Fill txt2img for the tiny 64×64 model."""
    page.locator("#txt2img_prompt textarea").fill(prompt)
    set_number(page, "txt2img_steps", steps)
    set_number(page, "txt2img_width", 64)
    set_number(page, "txt2img_height", 64)
    page.locator("#txt2img_seed input").fill(str(seed))
    page.locator("#txt2img_seed input").press("Tab")


def wait_for_infotext(page, elem_id: str, text: str, timeout: float = 90_000) -> str:
    page.wait_for_function("([id, t]) => { const e = document.getElementById(id); "
                           "return e && e.innerText.includes(t); }", arg=[elem_id, text], timeout=timeout)
    return page.locator(f"#{elem_id}").inner_text()


def newest_png(folder: Path, after: float = 0.0, timeout: float = 10.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = [p for p in folder.rglob("*.png") if p.stat().st_mtime >= after]
        if files:
            return max(files, key=lambda p: p.stat().st_mtime)
        time.sleep(0.2)
    raise AssertionError(f"no PNG saved under {folder}")


def png_parameters(path: Path) -> str | None:
    with Image.open(path) as image:
        return image.info.get("parameters")


def apply_until(page, button: str, result: str, expect: str) -> None:
    """Press `button` until the element `result` (ids) mentions `expect`: under load Gradio may take a field's change
    after the press has read the old value, so it is pressed again (the assertion stays the caller's)."""
    for attempt in range(4):
        page.wait_for_timeout(500)
        page.locator(f"#{button}").click()
        try:
            page.wait_for_function("([id, text]) => document.getElementById(id).innerText.includes(text)",
                                   arg=[result, expect], timeout=15_000 if attempt < 3 else 60_000)
            return
        except PlaywrightTimeout:
            continue


def apply_settings(page, expect: str) -> None:
    """Settings' Apply until its result line mentions `expect` (see `apply_until`)."""
    apply_until(page, "settings_submit", "settings_result", expect)


def upload_to_editor(page, selector: str, path, open_editor) -> None:
    """Open the editor and upload into it, waiting until it shows the picture. On a loaded machine an upload made
    while the editor is still setting up its canvas is sometimes dropped: then reload the page and try again."""
    for attempt in range(3):
        if attempt:
            page.reload()
            page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
        open_editor()
        page.locator(f"{selector} input[type=file]").set_input_files(str(path))
        try:
            page.wait_for_function("s => !document.querySelector(s).innerText.includes('Upload an image')",
                                   arg=selector, timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"{selector} never showed the uploaded image")


def image_rect_on_canvas(page, selector: str, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(x, y, w, h) in page pixels of the uploaded picture: the editor centres it in its canvas at the zoom it
    shows ("280%"), once that zoom has settled."""
    editor, last = page.locator(selector), None
    for _ in range(100):
        zoom = re.search(r"(\d+)%", editor.inner_text())
        if zoom and zoom.group(1) == last:
            break
        last = zoom.group(1) if zoom else None
        page.wait_for_timeout(300)
    assert zoom, "the editor shows no zoom level: was the image uploaded?"
    scale = int(zoom.group(1)) / 100
    box = editor.locator("canvas").last.bounding_box()
    w, h = size[0] * scale, size[1] * scale
    return box["x"] + (box["width"] - w) / 2, box["y"] + (box["height"] - h) / 2, w, h
