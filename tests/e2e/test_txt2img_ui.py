"""txt2img in the browser: Ctrl+Enter generates, the gallery shows the image, the infotext matches the PNG."""
from __future__ import annotations

import io
import time
import urllib.request
from urllib.parse import urljoin

from PIL import Image

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import newest_png, png_parameters, small_txt2img, wait_for_infotext


def test_ctrl_enter_generates_and_infotext_matches_saved_png(page, server):
    started = time.time() - 1
    small_txt2img(page, "a red fox in the snow", seed=1234)
    page.locator("#txt2img_prompt textarea").press("Control+Enter")
    text = wait_for_infotext(page, "html_info_txt2img", "Seed: 1234")
    assert "a red fox in the snow" in text
    page.wait_for_selector("#txt2img_gallery img")
    saved = newest_png(server.data_dir / "outputs" / "txt2img-images", after=started)
    parameters = png_parameters(saved)
    assert parameters is not None
    assert [line.strip() for line in parameters.splitlines()] == [line.strip() for line in text.splitlines()]
    assert "Steps: 4" in parameters and "Size: 64x64" in parameters
    src = page.locator("#txt2img_gallery img").first.get_attribute("src")  # what "Save image as…" downloads
    with urllib.request.urlopen(urljoin(server.url + "/", src), timeout=10) as response:
        served = Image.open(io.BytesIO(response.read()))
        assert served.format == "PNG" and served.info.get("parameters") == parameters
    screenshot(page, "txt2img_result")
    page.locator("#txt2img_send_to_img2img").click()  # the image and its parameters move to img2img
    page.wait_for_selector("#img2img_image img")
    page.wait_for_function("() => document.querySelector('#img2img_prompt textarea').value == 'a red fox in the snow'")
    assert page.locator("#img2img_seed input").input_value() == "1234"


def test_hires_fix_doubles_the_size(page, server):
    started = time.time() - 1
    small_txt2img(page, "a bigger fox", seed=77, steps=2)
    page.locator("#txt2img_hr").click()  # open the accordion
    page.locator("#txt2img_enable_hr input[type=checkbox]").check()
    page.locator("#txt2img_generate").click()
    text = wait_for_infotext(page, "html_info_txt2img", "Seed: 77")
    assert "Hires upscale: 2" in text
    with Image.open(newest_png(server.data_dir / "outputs" / "txt2img-images", after=started)) as saved:
        assert saved.size == (128, 128)


def test_style_saved_from_the_prompt_then_applied(page, server):
    page.once("dialog", lambda dialog: dialog.accept("Moody"))
    page.locator("#txt2img_prompt textarea").fill("dark, moody lighting")
    page.locator("#txt2img_neg_prompt textarea").fill("sunny")
    page.locator("#txt2img_style_create").click()
    styles = server.data_dir / "styles.csv"
    deadline = time.monotonic() + 30
    while not (styles.exists() and "Moody" in styles.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "dark, moody lighting" in styles.read_text()
    page.locator("#txt2img_prompt textarea").fill("a castle")
    page.locator("#txt2img_neg_prompt textarea").fill("")
    page.locator("#txt2img_styles input").click()
    page.get_by_role("option", name="Moody").click()
    page.locator("#txt2img_style_apply").click()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value"
                           " == 'a castle, dark, moody lighting'")
    assert page.locator("#txt2img_neg_prompt textarea").input_value() == "sunny"
