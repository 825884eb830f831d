"""What a user can get wrong, in the browser: empty prompt, a file that is not an image, a deleted checkpoint."""
from __future__ import annotations

import shutil

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import select_tab, small_txt2img, wait_for_infotext


def test_empty_prompt_generates(page):
    small_txt2img(page, "", seed=31, steps=2)
    page.locator("#txt2img_generate").click()
    wait_for_infotext(page, "html_info_txt2img", "Seed: 31")
    page.wait_for_selector("#txt2img_gallery img")


def test_not_an_image_gives_a_message(page, tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_bytes(b"this is not a picture at all" * 10)
    select_tab(page, "img2img")
    page.locator("#img2img_image input[type=file]").set_input_files(str(bad))
    page.locator("#img2img_prompt textarea").fill("anything")
    page.locator("#img2img_generate").click()
    page.wait_for_function("() => document.body.innerText.includes('is not an image Easel can read')"
                           " || document.body.innerText.includes('no image uploaded')")
    assert "Traceback" not in page.locator("body").inner_text()
    screenshot(page, "img2img_not_an_image")


def test_deleted_checkpoint_is_reported_and_list_refreshed(page, server, tiny_checkpoint):
    folder = server.data_dir / "models" / "Stable-diffusion"
    doomed = folder / "doomed.safetensors"
    shutil.copy(tiny_checkpoint, doomed)
    shutil.copy(tiny_checkpoint.with_suffix(".yaml"), folder / "doomed.yaml")
    page.locator("#refresh_sd_model_checkpoint").click()
    page.locator("#setting_sd_model_checkpoint input").click()
    page.get_by_role("option", name="doomed.safetensors").click()
    for _ in range(120):  # the choice reaches the server through a request: seconds on a loaded machine
        if "doomed" in page.request.get(server.url + "/sdapi/v1/options").json().get("sd_model_checkpoint", ""):
            break
        page.wait_for_timeout(500)
    doomed.unlink()
    small_txt2img(page, "with a vanished model", seed=5, steps=2)
    page.locator("#txt2img_generate").click()
    log = wait_for_infotext(page, "html_log_txt2img", "doomed")
    assert "no longer exists" in log or "not found" in log
    page.wait_for_function("() => !document.querySelector('#setting_sd_model_checkpoint input')"
                           ".value.includes('doomed')")
    page.locator("#setting_sd_model_checkpoint input").click()
    assert page.get_by_role("option", name="doomed.safetensors").count() == 0
