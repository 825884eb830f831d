"""ControlNet in the browser: upload a control image in unit 0, preview its canny map, generate with the unit."""
from __future__ import annotations

import time

import numpy as np
from PIL import Image, ImageDraw

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import newest_png, png_parameters, small_txt2img, wait_for_infotext
from tests.fixtures.tiny_controlnet import make_tiny_controlnet

UNIT = "txt2img_controlnet_ControlNet-0"


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.locator("[role=option]", has_text=option).first.click()


def test_upload_preview_canny_and_generate(page, server, tmp_path):
    make_tiny_controlnet(server.data_dir / "models" / "ControlNet", "control_tiny_canny")
    source = Image.new("RGB", (64, 64), "black")
    ImageDraw.Draw(source).rectangle((16, 16, 47, 47), fill="white")
    source.save(tmp_path / "square.png")

    small_txt2img(page, "a shape", seed=4, steps=2)
    page.locator("#txt2img_controlnet").get_by_text("ControlNet", exact=True).first.click()  # open the accordion
    page.locator(f"#{UNIT}_input_image input[type=file]").set_input_files(str(tmp_path / "square.png"))
    page.wait_for_selector(f"#{UNIT}_input_image img", state="visible")
    page.locator(f"#{UNIT}_controlnet_enable_checkbox input").check()
    choose(page, f"{UNIT}_controlnet_preprocessor_dropdown", "canny")
    page.wait_for_selector(f"#{UNIT}_controlnet_threshold_A_slider", state="visible")
    page.locator(f"#{UNIT}_controlnet_preprocessor_resolution_slider input[type=number]").fill("64")
    page.locator(f"#{UNIT}_controlnet_preprocessor_resolution_slider input[type=number]").press("Tab")
    page.locator(f"#{UNIT}_controlnet_trigger_preprocessor").click()
    page.wait_for_selector(f"#{UNIT}_generated_image img", state="visible", timeout=60_000)
    preview_src = page.locator(f"#{UNIT}_generated_image img").first.get_attribute("src")
    assert preview_src

    page.locator(f"#{UNIT}_controlnet_refresh_models").click()  # the model was added after the page was built
    choose(page, f"{UNIT}_controlnet_model_dropdown", "control_tiny_canny")
    started = time.time() - 1
    page.locator("#txt2img_generate").click()
    info = wait_for_infotext(page, "html_info_txt2img", "ControlNet 0")
    screenshot(page, "controlnet_txt2img")
    assert "Module: canny" in info and "Model: control_tiny_canny [" in info
    saved = newest_png(server.data_dir / "outputs" / "txt2img-images", started)
    assert 'ControlNet 0: "Module: canny' in png_parameters(saved)
    assert np.asarray(Image.open(saved)).shape[:2] == (64, 64)
