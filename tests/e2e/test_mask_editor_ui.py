"""The Inpaint mask editor in the browser: mouse, touch and pen strokes, the eraser, undo/redo, brush size, and
an inpaint that changes only the painted-minus-erased area; idle and beside a CPU-burning process."""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PageGuard, screenshot
from tests.e2e.helpers import newest_png, select_tab, set_number, wait_for_infotext

SIZE = 128
MASK_FIELD = "#img2maskimg_mask textarea, #img2maskimg_mask input"


def pattern_image(path, size=(SIZE, SIZE)) -> Image.Image:
    """A picture with structure everywhere, so "unchanged" means something."""
    y, x = np.mgrid[0:size[1], 0:size[0]]
    pixels = np.stack([(x * 2) % 256, (y * 2) % 256, np.maximum((x + y) % 256, 60)], axis=-1).astype(np.uint8)
    image = Image.fromarray(pixels)  # [H, W, 3]
    image.save(path)
    return image


@pytest.fixture
def burner():
    """A process spinning one core beside the test (the machine under load); killed after."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield process
    process.kill()
    process.wait(10)


def touch_page(request, browser, server):
    """A page whose context has touch input, so touch strokes are real touch pointers."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, has_touch=True)
    page = context.new_page()
    guard = PageGuard(page)
    page.set_default_timeout(60_000)
    page.goto(server.url + "/")
    page.wait_for_selector("#txt2img_prompt textarea", timeout=90_000)
    page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
    page.wait_for_function("() => typeof window.easelMaskEditor === 'object'")
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()
    assert not guard.external, f"requests left the machine: {guard.external}"
    assert not guard.errors, f"page errors: {guard.errors}"


@pytest.fixture
def tpage(request, browser, server):
    yield from touch_page(request, browser, server)


@pytest.fixture
def headed_page(request, browser, server):
    """The same page in a headed Chromium (a window on $DISPLAY, e.g. under xvfb-run)."""
    if not os.environ.get("DISPLAY"):
        pytest.skip("no display: run under xvfb-run for the headed check")
    headed = browser.browser_type.launch(executable_path=str(CHROMIUM), headless=False,
                                         args=[a for a in CHROMIUM_ARGS if a != "--headless"])
    yield from touch_page(request, headed, server)
    headed.close()


def open_inpaint(page) -> None:
    select_tab(page, "img2img")
    page.locator("#mode_img2img button[role=tab]", has_text="Inpaint").first.click()
    page.wait_for_selector("#img2maskimg input[type=file]", state="attached")
    page.wait_for_selector("#img2maskimg_brush")


def upload(page, path, size) -> None:
    page.locator("#img2maskimg input[type=file]").set_input_files(str(path))
    page.wait_for_function("w => { const s = easelMaskEditor.state(); const c = document.querySelector("
                           "'.mask-editor-canvas'); return s.picture[0] === w && c && c.style.display === 'block'; }",
                           arg=size[0], timeout=60_000)
    page.locator("#img2maskimg").scroll_into_view_if_needed()  # mouse coordinates are the viewport's


def state(page) -> dict:
    return page.evaluate("easelMaskEditor.state()")


def to_page(page, size=(SIZE, SIZE)):
    """Image pixel (x, y) → page coordinates on the editor's canvas."""
    box = page.locator(".mask-editor-canvas").bounding_box()
    return lambda x, y: (box["x"] + (x + 0.5) * box["width"] / size[0], box["y"] + (y + 0.5) * box["height"] / size[1])


def line(start, end, steps=12):
    return [(start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps)
            for i in range(steps + 1)]


def mouse_stroke(page, points) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def touch_stroke(cdp, points) -> None:
    """A one-finger drag through Chromium's real touch input (pointerType "touch")."""
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0],
                                                                                 "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def pen_stroke(cdp, points) -> None:
    """A stylus drag through Chromium's mouse input with pointerType "pen"."""
    base = {"button": "left", "pointerType": "pen", "force": 0.5}
    cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": points[0][0], "y": points[0][1],
                                          "pointerType": "pen"})
    cdp.send("Input.dispatchMouseEvent", {**base, "type": "mousePressed", "x": points[0][0], "y": points[0][1],
                                          "buttons": 1, "clickCount": 1})
    for x, y in points[1:]:
        cdp.send("Input.dispatchMouseEvent", {**base, "type": "mouseMoved", "x": x, "y": y, "buttons": 1})
    cdp.send("Input.dispatchMouseEvent", {**base, "type": "mouseReleased", "x": points[-1][0],
                                          "y": points[-1][1], "buttons": 0, "clickCount": 1})


def wait_strokes(page, count: int) -> None:
    page.wait_for_function("n => easelMaskEditor.state().strokes === n", arg=count, timeout=30_000)


def mask_array(page) -> np.ndarray:
    """The mask the page would send: True where painted. [H, W]"""
    value = page.locator(MASK_FIELD).first.input_value()
    assert value.startswith("data:image/png;base64,"), "no mask in the hidden field"
    image = Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1])))
    return np.asarray(image.getchannel("A")) >= 128


def picture_src(page) -> str:
    return page.evaluate("(document.querySelector('#img2maskimg img') || {}).src || ''")


def record_pointer_types(page) -> None:
    page.evaluate("window.__seen = []; document.querySelector('.mask-editor-canvas').addEventListener("
                  "'pointerdown', e => window.__seen.push(e.pointerType))")


def wait_for_message(page, text: str) -> None:
    """A message the generate call answered with (shown under the results)."""
    page.wait_for_function("t => document.getElementById('html_log_img2img').innerText.includes(t)", arg=text,
                           timeout=120_000)


def fill_inpaint_settings(page, steps: int = 4) -> None:
    page.locator("#img2img_prompt textarea").fill("a patch")
    set_number(page, "img2img_steps", steps)
    set_number(page, "img2img_width", SIZE)
    set_number(page, "img2img_height", SIZE)
    set_number(page, "img2img_mask_blur", 0)
    page.locator("#img2img_inpainting_fill label", has_text="original").click()
    page.locator("#img2img_inpaint_full_res label", has_text="Whole picture").click()


@pytest.mark.parametrize("loaded", [False, True], ids=["idle", "loaded"])
def test_mouse_touch_pen_erase_undo_redo_then_inpaint(tpage, server, tmp_path, request, loaded):
    if loaded:
        request.getfixturevalue("burner")
    paint_erase_undo_redo_inpaint(tpage, server, tmp_path, "loaded" if loaded else "idle")


def test_headed_mouse_touch_pen_erase_undo_redo_then_inpaint(headed_page, server, tmp_path, burner):
    paint_erase_undo_redo_inpaint(headed_page, server, tmp_path, "headed_loaded")


def paint_erase_undo_redo_inpaint(page, server, tmp_path, name: str) -> None:
    """Strokes by mouse, touch and pen, an eraser stroke and one more; two undos, one redo; then an inpaint that
    may change only the painted-minus-erased pixels (mask blur 0, original fill, whole picture)."""
    source = pattern_image(tmp_path / "pattern.png")
    open_inpaint(page)
    upload(page, tmp_path / "pattern.png", source.size)
    src = picture_src(page)
    at = to_page(page)
    cdp = page.context.new_cdp_session(page)
    record_pointer_types(page)
    page.locator("#img2maskimg_size").fill("10")
    assert state(page)["size"] == 10

    mouse_stroke(page, line(at(10, 20), at(50, 20)))
    wait_strokes(page, 1)
    touch_stroke(cdp, line(at(10, 60), at(50, 60)))
    wait_strokes(page, 2)
    pen_stroke(cdp, line(at(10, 100), at(50, 100)))
    wait_strokes(page, 3)
    page.locator("#img2maskimg_eraser").click()
    mouse_stroke(page, line(at(30, 5), at(30, 115), steps=20))  # erases a column through all three
    wait_strokes(page, 4)
    page.locator("#img2maskimg_brush").click()
    mouse_stroke(page, line(at(80, 40), at(110, 40)))  # undone below: must not end up in the mask
    wait_strokes(page, 5)
    assert page.evaluate("window.__seen") == ["mouse", "touch", "pen", "mouse", "mouse"]
    screenshot(page, f"mask_editor_painted_{name}")

    page.locator("#img2maskimg_undo").click()
    wait_strokes(page, 4)
    assert picture_src(page) == src, "undo touched the uploaded picture"
    page.locator("#img2maskimg_undo").click()
    wait_strokes(page, 3)
    assert picture_src(page) == src, "undo touched the uploaded picture"
    assert mask_array(page)[20, 30], "undoing the eraser stroke brings the paint back"
    page.locator("#img2maskimg_redo").click()
    wait_strokes(page, 4)
    assert state(page)["total"] == 5  # the last stroke stays redoable

    mask = mask_array(page)  # [128, 128]
    for row in (20, 60, 100):
        assert mask[row, 15] and mask[row, 45], f"stroke at row {row} is missing from the mask"
        assert not mask[row, 30], f"erased column still painted at row {row}"
    assert not mask[40, 95], "the undone stroke is in the mask"

    fill_inpaint_settings(page)
    started = time.time() - 1
    page.locator("#img2img_generate").click()
    wait_for_infotext(page, "html_info_img2img", "Denoising strength", timeout=240_000)
    assert picture_src(page) == src
    result = np.asarray(Image.open(newest_png(server.data_dir / "outputs" / "img2img-images", started))
                        .convert("RGB")).astype(int)  # [128, 128, 3]
    original = np.asarray(source).astype(int)
    diff = np.abs(result - original).max(axis=2)  # [128, 128]
    assert diff[~mask].max() == 0, "pixels outside the painted-minus-erased mask changed"
    assert diff[mask].mean() > 5, "the painted area was not regenerated"


def test_brush_size_by_wheel_and_keys_and_opacity(tpage, tmp_path):
    page = tpage
    source = pattern_image(tmp_path / "pattern.png")
    open_inpaint(page)
    upload(page, tmp_path / "pattern.png", source.size)
    at = to_page(page)
    page.locator("#img2maskimg_size").fill("20")
    page.mouse.move(*at(64, 64))
    page.mouse.wheel(0, -100)
    page.wait_for_function("() => easelMaskEditor.state().size > 20")
    grown = state(page)["size"]
    page.mouse.wheel(0, 100)
    page.wait_for_function("g => easelMaskEditor.state().size < g", arg=grown)
    page.keyboard.press("]")
    page.keyboard.press("]")
    assert state(page)["size"] > 20
    for _ in range(40):
        page.keyboard.press("[")
    assert state(page)["size"] == 1
    assert page.locator("#img2maskimg_size_value").inner_text() == "1"
    page.locator("#img2maskimg_opacity").fill("30")
    assert page.evaluate("document.querySelector('.mask-editor-canvas').style.opacity") == "0.3"
    page.locator("#img2img_prompt textarea").click()
    page.keyboard.type("a [b]")  # typing in the prompt must not resize the brush
    assert page.locator("#img2img_prompt textarea").input_value().endswith("a [b]")
    assert state(page)["size"] == 1


def test_undo_past_the_first_stroke_keeps_the_picture(tpage, tmp_path):
    """The tester's case: two undos after one stroke emptied the old editor; here the picture stays."""
    page = tpage
    source = pattern_image(tmp_path / "pattern.png")
    open_inpaint(page)
    upload(page, tmp_path / "pattern.png", source.size)
    src = picture_src(page)
    at = to_page(page)
    mouse_stroke(page, line(at(20, 20), at(60, 60)))
    wait_strokes(page, 1)
    page.keyboard.press("Control+z")
    page.locator("#img2maskimg_undo").click(force=True)  # disabled: nothing left to undo
    wait_strokes(page, 0)
    assert picture_src(page) == src and page.locator(".mask-editor-canvas").is_visible()
    assert page.locator(MASK_FIELD).first.input_value() == ""
    page.locator("#img2img_generate").click()
    wait_for_message(page, "mask: nothing painted")
    page.locator("#img2maskimg").scroll_into_view_if_needed()
    page.mouse.move(*to_page(page)(100, 100))  # keys act while the pointer is over the picture
    page.keyboard.press("Control+Shift+z")  # redo brings the stroke back
    wait_strokes(page, 1)
    assert mask_array(page)[40, 40]
    page.locator("#img2maskimg_clear").click()
    assert page.locator(MASK_FIELD).first.input_value() == ""
    page.locator("#img2maskimg_undo").click()
    assert mask_array(page)[40, 40], "clear mask is undoable"


def test_bad_input_gives_messages_and_the_page_keeps_working(tpage, server, tmp_path):
    page = tpage
    source = pattern_image(tmp_path / "pattern.png")
    open_inpaint(page)
    status = page.locator("#img2maskimg_status")
    page.evaluate("""() => { const t = new DataTransfer();
        t.items.add(new File(['just text'], 'notes.txt', {type: 'text/plain'}));
        document.getElementById('img2maskimg').dispatchEvent(
            new DragEvent('drop', {dataTransfer: t, bubbles: true, cancelable: true})); }""")
    assert "not an image" in status.inner_text()
    (tmp_path / "notes.png").write_bytes(b"this is not a picture at all" * 20)
    page.locator("#img2maskimg input[type=file]").set_input_files(str(tmp_path / "notes.png"))
    page.wait_for_function("() => document.getElementById('img2maskimg_status').innerText"
                           ".includes('not an image the browser can show')")

    upload(page, tmp_path / "pattern.png", source.size)
    src = picture_src(page)
    page.mouse.move(*to_page(page)(64, 64))
    page.evaluate("""() => { const t = new DataTransfer(); t.setData('text/plain', 'hello');
        document.activeElement.dispatchEvent(new ClipboardEvent('paste', {clipboardData: t, bubbles: true})); }""")
    assert "no image" in status.inner_text()
    assert picture_src(page) == src

    # a mask of another shape than the picture (e.g. from a script) is refused with both sizes named
    odd = io.BytesIO()
    Image.new("RGBA", (64, 32), (255, 255, 255, 255)).save(odd, "PNG")
    page.evaluate("""v => { const b = document.querySelector('#img2maskimg_mask textarea, #img2maskimg_mask input');
        b.value = v; b.dispatchEvent(new Event('input', {bubbles: true})); }""",
                  "data:image/png;base64," + base64.b64encode(odd.getvalue()).decode())
    page.locator("#img2img_generate").click()
    wait_for_message(page, "the mask is 64×32 but the image is 128×128")

    big = pattern_image(tmp_path / "big.png", (5000, 3000))
    upload(page, tmp_path / "big.png", big.size)
    assert "large picture (5000×3000)" in status.inner_text()
    assert state(page)["mask"] == [2048, 1229]
    assert page.locator("#img2maskimg_size").get_attribute("max") == "1250"  # a quarter of the longest side
    mouse_stroke(page, line(to_page(page, big.size)(1000, 1000), to_page(page, big.size)(3000, 1000)))
    wait_strokes(page, 1)
    fill_inpaint_settings(page, steps=2)
    started = time.time() - 1
    page.locator("#img2img_generate").click()
    wait_for_infotext(page, "html_info_img2img", "Denoising strength", timeout=240_000)
    with Image.open(newest_png(server.data_dir / "outputs" / "img2img-images", started)) as result:
        assert result.size == (SIZE, SIZE)
    screenshot(page, "mask_editor_large_picture")

    Image.new("L", (9500, 9500), 128).save(tmp_path / "huge.png")  # 90 MP: over Pillow's limit
    page.locator("#img2maskimg input[type=file]").set_input_files(str(tmp_path / "huge.png"))
    page.wait_for_function("() => document.getElementById('img2maskimg_status').innerText"
                           ".includes('9500×9500: too large to paint a mask on')", timeout=120_000)
    assert not page.locator(".mask-editor-canvas").is_visible()
    assert page.locator(MASK_FIELD).first.input_value() == ""


def test_strokes_land_while_a_job_runs(tpage, tmp_path, burner):
    page = tpage
    source = pattern_image(tmp_path / "pattern.png")
    open_inpaint(page)
    upload(page, tmp_path / "pattern.png", source.size)
    at = to_page(page)
    mouse_stroke(page, line(at(10, 10), at(40, 10)))
    wait_strokes(page, 1)
    fill_inpaint_settings(page, steps=40)
    page.locator("#img2img_generate").click()
    # the job is running: with the burner and a second pytest worker it can take over a minute to start
    page.wait_for_selector("#img2img_progress .progressDiv", timeout=180_000)
    page.locator("#img2maskimg").scroll_into_view_if_needed()  # the settings clicks scrolled the page
    at = to_page(page)
    began = time.monotonic()
    mouse_stroke(page, line(at(10, 90), at(100, 90), steps=30))
    wait_strokes(page, 2)
    took = time.monotonic() - began
    assert mask_array(page)[90, 50]
    assert took < 10, f"a stroke took {took:.1f} s while a job ran"
    wait_for_infotext(page, "html_info_img2img", "Denoising strength", timeout=240_000)
