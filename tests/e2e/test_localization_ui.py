"""A1111 localizations in the browser: the session server runs beside tests/fixtures/extensions/localization_xx
(`localizations/xx_Test.json`, `xx_Rtl.json`). Choosing one in Settings, Apply and a reload translate the page's
labels, buttons, placeholders and titles; what the user typed and what was generated stay as they are."""
from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from pathlib import Path


from tests.e2e.conftest import open_page, screenshot
from tests.e2e.helpers import apply_settings, small_txt2img, wait_for_infotext

FIXTURE_FILE = Path(__file__).parents[1] / "fixtures" / "extensions" / "localization_xx" / "localizations" / \
    "xx_Test.json"
FIXTURE = json.loads(FIXTURE_FILE.read_text(encoding="utf-8"))


def set_localization(server, name: str) -> None:
    request = urllib.request.Request(server.url + "/sdapi/v1/options", data=json.dumps({"localization": name}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@contextmanager
def localized(server):
    """Every other browser test expects English: whatever happens, the session server ends with "None"."""
    try:
        yield
    finally:
        set_localization(server, "None")


def apply_localization_in_settings(page, name: str) -> None:
    page.locator("#tabs button[role=tab]", has_text="Settings").first.click()
    page.locator("#settings button[role=tab]", has_text="User interface").first.click()
    page.locator("#setting_localization input").click()
    page.locator("[role=option]", has_text=name).first.click()
    apply_settings(page, "Reload UI")
    assert "localization" in page.locator("#settings_result").inner_text()


def label_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} [data-testid=block-info]").first.inner_text().strip()


def test_chosen_localization_translates_the_page_but_not_the_users_text(page, server):
    with localized(server):
        apply_localization_in_settings(page, "xx_Test")
        assert json.loads((server.data_dir / "config.json").read_text())["localization"] == "xx_Test"
        page.locator("#settings_restart_gradio").click()  # Reload UI
        page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
        page.locator("#tabs button[role=tab]", has_text="txt2img").first.click()
        page.wait_for_function("() => document.querySelector('#txt2img_generate').innerText.trim() == 'Generi'")

        assert page.locator("#txt2img_interrupt").inner_text().strip() == FIXTURE["Interrupt"]
        for elem_id, english in (("txt2img_steps", "Sampling steps"), ("txt2img_width", "Width"),
                                 ("txt2img_seed", "Seed"), ("txt2img_cfg_scale", "CFG Scale")):
            assert label_of(page, elem_id) == FIXTURE[english], elem_id
        assert page.locator("#tabs button[role=tab]", has_text=FIXTURE["PNG Info"]).count() == 1
        negative = page.locator("#txt2img_neg_prompt textarea")
        assert negative.get_attribute("placeholder") == FIXTURE["Negative prompt (Ctrl+Enter to generate)"]
        page.wait_for_function("() => document.querySelector('#txt2img_random_seed').title != ''")  # hints.js
        assert page.locator("#txt2img_random_seed").get_attribute("title") == FIXTURE[
            "Set seed to -1, which will cause a new random number to be used every time"]
        assert FIXTURE["20"] not in page.locator("#tabs").inner_text()  # numbers stay numbers

        # the prompt is a key of the localization: the box, the job and the infotext keep the user's words
        small_txt2img(page, "a red circle", seed=4321)
        page.locator("#txt2img_generate").click()
        text = wait_for_infotext(page, "html_info_txt2img", "Seed: 4321")
        page.wait_for_selector("#txt2img_gallery img")
        assert text.splitlines()[0].strip() == "a red circle" and FIXTURE["a red circle"] not in text
        assert page.locator("#txt2img_prompt textarea").input_value() == "a red circle"
        assert page.locator("#txt2img_generate").inner_text().strip() == "Generi"  # still, after the job
        screenshot(page, "localization_xx_txt2img")

        # A1111's "Download localization template": the page's texts with their translations, no user data
        page.locator("#tabs button[role=tab]", has_text="Settings").first.click()
        page.locator("#settings button[role=tab]", has_text="User interface").first.click()
        # the page was built at start with "None": each page load shows config.json's value, so Apply keeps it
        assert page.locator("#setting_localization input").input_value() == "xx_Test"
        with page.expect_download() as download:
            page.locator("#download_localization").click()
        template = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert template["Generate"] == "Generi" and template["Schedule type"] == "Schedule type"
        assert "a red circle" not in template

    page.reload()  # back to "None": English again
    page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
    assert page.locator("#txt2img_generate").inner_text().strip() == "Generate"


def test_right_to_left_localization_turns_the_page(browser, server):
    with localized(server):
        set_localization(server, "xx_Rtl")
        context, page, guard = open_page(browser, server)
        try:
            # localization.js turns the page when it runs: Gradio may add it after the UI has loaded
            page.wait_for_function("() => document.documentElement.dir == 'rtl'")
            assert page.locator("#txt2img_generate").inner_text().strip() == "ירנג"
            # the fixture's style.css holds `@media rtl { #txt2img_generate { outline: … rgb(1, 2, 3) } }`
            page.wait_for_function("() => getComputedStyle(document.querySelector('#txt2img_generate'))"
                                   ".outlineColor == 'rgb(1, 2, 3)'")
            screenshot(page, "localization_rtl")
            assert not guard.errors and not guard.external
        finally:
            context.close()
