"""Inpaint with a mouse-painted mask and Outpaint in the browser, on the tiny model."""
from __future__ import annotations

import time

import numpy as np
from PIL import Image

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import newest_png, select_tab, set_number, wait_for_infotext

BLUE = (40, 120, 200)


def pattern_image(path) -> Image.Image:
    """A 128×128 picture with structure, so "unchanged" means something."""
    y, x = np.mgrid[0:128, 0:128]
    pixels = np.stack([x * 2, y * 2, x + y], axis=-1).astype(np.uint8)  # [128, 128, 3]
    pixels[:, :, 2] = np.maximum(pixels[:, :, 2], 60)
    image = Image.fromarray(pixels)
    image.save(path)
    return image


def test_inpaint_stroke_changes_only_near_the_stroke(page, server, tmp_path):
    source = pattern_image(tmp_path / "pattern.png")

    def open_inpaint():
        select_tab(page, "img2img")
        page.locator("#mode_img2img button[role=tab]", has_text="Inpaint").first.click()
        page.wait_for_selector("#img2maskimg input[type=file]", state="attached")

    open_inpaint()
    page.locator("#img2maskimg input[type=file]").set_input_files(str(tmp_path / "pattern.png"))
    page.wait_for_selector(".mask-editor-canvas", state="visible")  # javascript/mask-editor.js, over the picture
    page.locator("#img2maskimg").scroll_into_view_if_needed()  # mouse coordinates are the viewport's
    box = page.locator(".mask-editor-canvas").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.15, y + h * 0.2)  # start on the image, top-left quadrant
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x + w * (0.15 + 0.02 * i), y + h * 0.2, steps=2)
    page.mouse.up()
    page.locator("#img2img_prompt textarea").fill("a patch")
    set_number(page, "img2img_steps", 4)
    set_number(page, "img2img_width", 128)
    set_number(page, "img2img_height", 128)
    started = time.time() - 1
    page.locator("#img2img_generate").click()
    wait_for_infotext(page, "html_info_img2img", "Denoising strength")
    screenshot(page, "img2img_inpaint")
    result = np.asarray(Image.open(newest_png(server.data_dir / "outputs" / "img2img-images", started))
                        .convert("RGB")).astype(int)
    original = np.asarray(source).astype(int)
    far = (slice(80, 128), slice(0, 128))  # rows far below the stroke (near row 26, brush 16 px)
    assert np.abs(result[far] - original[far]).max() <= 2
    near = (slice(20, 32), slice(24, 40))
    assert np.abs(result[near] - original[near]).mean() > 5, "the painted area was not regenerated"


def test_outpaint_right_makes_a_wider_image(page, server, tmp_path):
    pattern_image(tmp_path / "pattern.png")
    select_tab(page, "Outpaint")
    page.locator("#outpaint_image input[type=file]").set_input_files(str(tmp_path / "pattern.png"))
    set_number(page, "outpaint_pixels", 64)
    set_number(page, "outpaint_steps", 4)
    page.locator("#outpaint_preview_button").click()
    page.wait_for_selector("#outpaint_canvas img")
    started = time.time() - 1
    page.locator("#outpaint_generate").click()
    wait_for_infotext(page, "html_info_outpaint", "Size: 192x128")
    screenshot(page, "outpaint")
    with Image.open(newest_png(server.data_dir / "outputs" / "img2img-images", started)) as result:
        assert result.size == (192, 128)


def test_extras_upscales_by_two(page, tmp_path):
    pattern_image(tmp_path / "pattern.png")
    select_tab(page, "Extras")
    page.locator("#extras_image input[type=file]").set_input_files(str(tmp_path / "pattern.png"))
    page.wait_for_selector("#extras_image img")
    page.locator("#extras_generate").click()
    wait_for_infotext(page, "html_info_extras", "256x256")
    page.wait_for_selector("#extras_gallery img")
    screenshot(page, "extras")


def test_img2img_generate_and_interrogate_send_the_mode_of_the_tab_shown(page):
    """Tabs mounted at load send select events whose answers may cross, so the mode the server last heard of can
    differ from the sub-tab the user sees: the Generate and Interrogate events take it from the tab shown (their
    `js` runs before the request; here it is run on made-up values)."""
    select_tab(page, "img2img")
    tabs = page.locator("#mode_img2img button[role=tab]")
    run_js = """([button, values]) => {
        const cfg = window.gradio_config;
        const target = cfg.components.find((c) => c.props && c.props.elem_id === button).id;
        const dep = cfg.dependencies.find((d) => d.targets.some(([id, ev]) => id === target && ev === "click"));
        return (0, eval)(dep.js)(...values);
    }"""
    for label, mode in (("Inpaint upload", "inpaint_upload"), ("Batch", "batch"), ("img2img", "img2img"),
                        ("Sketch", "sketch")):
        tabs.filter(has_text=label).first.click()
        page.wait_for_function("(t) => [...document.querySelectorAll('#mode_img2img button[role=tab]')]"
                               ".some((b) => b.getAttribute('aria-selected') === 'true' && b.innerText.trim() === t)",
                               arg=label)
        for button in ("img2img_generate", "interrogate"):
            assert page.evaluate(run_js, [button, ["stale", "x", 3]]) == [mode, "x", 3], (button, label)
