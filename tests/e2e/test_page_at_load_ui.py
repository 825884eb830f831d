"""What A1111's page holds when extensions' scripts run: every tab's and every closed accordion's contents are in
the page at onUiLoaded (A1111's Gradio 3 rendered them all at load), and so are selectable scripts' panels, yet
the accordions stay closed, the panels hidden and the first tab selected; onUiUpdate callbacks never see an accordion
without its contents. The probe extension
(tests/fixtures/extensions/page_at_load) does what sd-dynamic-thresholding, sd-webui-vectorscope-cc and
sd-webui-moar-generate do at load."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, PageGuard, Server, _data_dir, screenshot

PROBE = Path(__file__).parents[1] / "fixtures" / "extensions" / "page_at_load"


@pytest.fixture(scope="module")
def probe_server(tmp_path_factory, tiny_checkpoint):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (run_tests.sh installs it)")
    data = _data_dir(tmp_path_factory, tiny_checkpoint)
    shutil.copytree(PROBE, data / "extensions" / "page-at-load")
    server = Server(data)
    server.start()
    yield server
    server.stop()


@pytest.mark.slow  # its own server start, and the whole page mounted: 30-90 s on a loaded 2-core machine
def test_closed_accordions_and_hidden_tabs_are_in_the_page_at_load(probe_server, browser):
    # the session's browser (tests/e2e/conftest.py): a second sync_playwright() in one process fails
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    guard = PageGuard(page)
    try:
        page.goto(probe_server.url + "/")
        page.wait_for_selector("body.easel-loaded", state="attached", timeout=120_000)
        page.wait_for_function("() => typeof pageAtLoad === 'object' && pageAtLoad.missingAtLoad !== null")
        probe = page.evaluate("() => pageAtLoad")
        assert probe["missingAtLoad"] == []
        assert probe["updateErrors"] == []
        assert probe["choices"] == ["none", "soft", "hard"]
        # the badge active.js-style code put beside the closed accordion's title, from the checkbox inside it
        assert page.evaluate("() => gradioApp().querySelector('#page_at_load_txt2img .label-wrap span')"
                             ".dataset.badge") == "false"
        # still closed, and still on the first tab, as the user left them
        for elem_id in ("page_at_load_enabled_txt2img", "page_at_load_strength_txt2img", "setting_page_at_load_flag",
                        "page_at_load_second", "img2img_prompt", "page_at_load_rounds_txt2img"):
            assert not page.locator(f"#{elem_id}").is_visible(), elem_id
        assert page.evaluate("() => get_uiCurrentTab().textContent.trim()") == "txt2img"
        assert page.locator("#txt2img_prompt textarea").is_visible()
        assert page.evaluate("() => get_tab_index('page_at_load_tabs')") == 0
        assert page.evaluate("() => [...document.querySelectorAll('#page_at_load_stray_tabs [role=tab]')]"
                             ".map((b) => b.textContent.trim())") == ["One", "Two"]
        # opening the accordion shows what was there all along
        page.locator("#page_at_load_txt2img .label-wrap").first.click()
        page.locator("#page_at_load_enabled_txt2img").wait_for(state="visible")
        # a script turns the InputAccordion on (A1111's inputAccordionChecked): it opens, and its value follows
        page.evaluate("() => inputAccordionChecked('page_at_load_input_txt2img', true)")
        page.locator("#page_at_load_strength_txt2img").wait_for(state="visible")
        page.wait_for_function("() => gradioApp().querySelector('#page_at_load_input_txt2img-checkbox input')"
                               ".checked")
        # a selectable script's panel was in the page, hidden; choosing the script shows it
        page.locator("#script_list input").click()
        page.locator("[role=option]", has_text="Page at load (selectable)").first.click()
        page.locator("#page_at_load_rounds_txt2img").wait_for(state="visible")
        assert guard.errors == []
        assert console_errors == []
    except Exception:
        screenshot(page, "FAILED-page-at-load")
        raise
    finally:
        context.close()
