"""Extension scripts in a real browser (the session server has the hook-recorder extension installed): its
JavaScript runs, its tab and setting appear, its always-on panel changes the generation, the Script dropdown shows
the chosen script's panel and runs it."""
from __future__ import annotations

import json
import re
import urllib.request

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from PIL import Image

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import (image_rect_on_canvas, select_tab, set_number, small_txt2img, upload_to_editor,
                               wait_for_infotext)


def test_extension_js_css_tab_and_setting_appear(page, server):
    page.wait_for_function("() => window.hookRecorderLoaded === true")  # Gradio adds <head> scripts one by one
    # so a script may arrive after the UI loaded: its onUiLoaded callback still runs
    assert page.evaluate("() => new Promise(done => { onUiLoaded(() => done(true)); "
                         "setTimeout(() => done(false), 2000); })")
    assert page.evaluate("() => [...document.querySelectorAll('link[rel=stylesheet]')]"
                         ".some(l => l.href.includes('style.css') && !l.href.endsWith('/0/style.css'))")
    select_tab(page, "Hook recorder")
    page.wait_for_selector("#hook_recorder_markdown", state="visible")
    select_tab(page, "Settings")
    page.locator("#tab_settings button[role=tab]", has_text="Hook recorder").first.click()
    page.wait_for_selector("#setting_hook_recorder_flag", state="visible")
    screenshot(page, "extension_setting")


def test_alwayson_panel_and_selected_script_run_from_the_page(page, server):
    small_txt2img(page, "a red circle", seed=5, steps=2)
    page.locator("#txt2img_script_container button", has_text="Hook recorder").first.click()  # open its accordion
    page.locator("#script_txt2img_hook_recorder_enabled input").check()
    page.locator("#script_txt2img_hook_recorder_suffix textarea").fill("wearing a hat")
    page.locator("#txt2img_generate").click()
    text = wait_for_infotext(page, "html_info_txt2img", "Recorder suffix: wearing a hat")
    assert "a red circle wearing a hat" in text
    with urllib.request.urlopen(server.url + "/hook-recorder/calls", timeout=10) as response:
        calls = json.load(response)["calls"]
    start = len(calls) - 1 - calls[::-1].index("setup")  # this job's hooks (the server ran other tests' jobs)
    assert calls[start:start + 2] == ["setup", "before_process"] and calls[-1] == "postprocess"
    page.locator("#script_txt2img_hook_recorder_enabled input").uncheck()

    page.locator("#script_list input").click()
    page.locator("[role=option]", has_text="Recorder twice").first.click()
    page.wait_for_selector("#txt2img_script_recorder_twice", state="visible")
    set_number(page, "txt2img_script_recorder_twice", 2)
    page.locator("#txt2img_generate").click()
    wait_for_infotext(page, "html_info_txt2img", "Seed: 100")  # the script set seeds 100 and 101
    page.wait_for_function("() => new Set([...document.querySelectorAll('#txt2img_gallery img')]"
                           ".map(i => i.src)).size >= 2", timeout=30_000)
    screenshot(page, "script_recorder_twice")


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` in the Gradio dropdown `#elem_id`."""
    page.locator(f"#{elem_id} input").click()
    page.locator("[role=option]", has_text=option).first.click()


def test_xyz_plot_steps_by_cfg_from_the_page(page, server):
    small_txt2img(page, "a blue square", seed=9, steps=2)
    choose(page, "script_list", "X/Y/Z plot")
    prefix = "script_txt2img_xyz_plot"
    page.wait_for_selector(f"#{prefix}_x_type", state="visible")
    choose(page, f"{prefix}_x_type", "Steps")
    choose(page, f"{prefix}_y_type", "CFG Scale")
    boxes = {axis: page.locator(f"#{prefix}_{axis}_values textarea, #{prefix}_{axis}_values input").first
             for axis in ("x", "y")}
    for _ in range(5):  # a type change clears its values box (as in A1111); under load that may land after a fill
        boxes["x"].fill("1,2")
        boxes["y"].fill("5,7")
        page.wait_for_timeout(700)
        if boxes["x"].input_value() == "1,2" and boxes["y"].input_value() == "5,7":
            break
    assert boxes["x"].input_value() == "1,2" and boxes["y"].input_value() == "5,7"
    page.locator(f"#{prefix}_include_lone_images input").check()
    page.locator("#txt2img_generate").click()
    text = wait_for_infotext(page, "html_info_txt2img", "X/Y/Z plot")  # the grid comes first, with its own infotext
    assert "X Type: Steps" in text and "Y Type: CFG Scale" in text
    page.wait_for_function("() => new Set([...document.querySelectorAll('#txt2img_gallery img')]"
                           ".map(i => i.src)).size >= 5", timeout=30_000)  # grid + 4 cells
    screenshot(page, "xyz_plot")


def test_typical_a1111_extension_works_unchanged_in_the_page(page, server):
    """The "Simple frame" extension (tests/fixtures/extensions/typical_author): its JS ran, InputAccordion enables
    it, `gr.Slider.update` from a preset change moves the slider, its frame shows in the infotext, its tab works."""
    page.wait_for_function("() => document.querySelector('#script_txt2img_simple_frame_enabled')"
                           "?.dataset.simpleFrame === 'loaded'")
    small_txt2img(page, "a green star", seed=3, steps=2)
    page.locator("#script_txt2img_simple_frame_enabled").get_by_text("Simple frame").first.click()  # opens = enables
    page.wait_for_function("() => document.querySelector('#script_txt2img_simple_frame_refresh')?.title"
                           " === 'Reload presets'")  # A1111's tooltip= on its ToolButton
    choose(page, "script_txt2img_simple_frame_preset", "bold")
    page.wait_for_function("() => document.querySelector('#script_txt2img_simple_frame_width input[type=number]')"
                           ".value == '6'")  # the Gradio-3 style update reached the slider
    page.locator("#txt2img_generate").click()
    text = wait_for_infotext(page, "html_info_txt2img", "Frame width: 6")
    assert "Frame: bold" in text
    select_tab(page, "Simple frame")
    page.locator("#simple_frame_show").click()
    page.wait_for_selector("#simple_frame_preview img")
    screenshot(page, "typical_extension_tab")


def test_gradio3_sketch_image_gives_the_extension_image_and_mask(page, tmp_path):
    """`gr.Image(source="upload", tool="sketch", type="numpy")` in an extension's tab draws on Gradio's image editor
    and its function receives Gradio 3's {"image", "mask"} arrays with the painted stroke in the mask."""
    picture = tmp_path / "grey.png"
    Image.new("RGB", (96, 64), (128, 128, 128)).save(picture)

    def open_tab():
        select_tab(page, "Simple frame")
        page.wait_for_selector("#simple_frame_sketch input[type=file]", state="attached")

    upload_to_editor(page, "#simple_frame_sketch", picture, open_tab)
    page.locator("#simple_frame_sketch").scroll_into_view_if_needed()  # mouse coordinates are the viewport's
    report_box = page.locator("#simple_frame_mask_report textarea")
    for _ in range(3):  # on a loaded machine the editor may take the first stroke before its layers are drawn
        x, y, w, h = image_rect_on_canvas(page, "#simple_frame_sketch", (96, 64))
        page.mouse.move(x + w * 0.2, y + h * 0.5)
        page.mouse.down()
        for i in range(1, 11):
            page.mouse.move(x + w * (0.2 + 0.03 * i), y + h * 0.5, steps=2)
        page.mouse.up()
        page.locator("#simple_frame_measure").click()
        try:
            page.wait_for_function("() => /painted [1-9]/.test(document.querySelector('#simple_frame_mask_report "
                                   "textarea')?.value || '')", timeout=20_000)
            break
        except PlaywrightTimeoutError:
            continue
    report = report_box.input_value()
    assert re.search(r"painted [1-9]", report), report
    assert report.startswith("image 96x64, mask 96x64"), report
    xs = [int(v) for v in re.search(r"x (\d+)-(\d+)", report).groups()]
    ys = [int(v) for v in re.search(r"y (\d+)-(\d+)", report).groups()]
    assert xs[0] < 0.35 * 96 and xs[1] > 0.4 * 96 and xs[1] < 0.7 * 96, report  # the stroke from 20 % to 50 %
    assert ys[0] < 32 < ys[1] and ys[1] - ys[0] < 40, report
    screenshot(page, "gradio3_sketch_extension")
