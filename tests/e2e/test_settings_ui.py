"""Settings persist in config.json over a server restart; fields persist in the browser over a reload."""
from __future__ import annotations

import json

import pytest

from modules.ui.browser_state import STORAGE_KEY
from tests.e2e.conftest import open_page
from tests.e2e.helpers import apply_settings, number_value, select_tab, set_number


@pytest.mark.slow  # a server restart / a long job: 30-60 s on a loaded 2-core machine
def test_setting_survives_server_restart(page, browser, server):
    select_tab(page, "Settings")
    page.locator("#settings button[role=tab]", has_text="Sampler parameters").first.click()
    box = page.locator("#setting_eta_ddim input[type=number]").first
    box.fill("0.35")
    box.press("Tab")
    apply_settings(page, "eta_ddim")
    assert "eta_ddim" in page.locator("#settings_result").inner_text()
    assert json.loads((server.data_dir / "config.json").read_text())["eta_ddim"] == 0.35

    server.restart()
    context, fresh, _ = open_page(browser, server)
    try:
        select_tab(fresh, "Settings")
        fresh.locator("#settings button[role=tab]", has_text="Sampler parameters").first.click()
        assert fresh.locator("#setting_eta_ddim input[type=number]").first.input_value() == "0.35"
    finally:
        context.close()


def _stored_fields(page) -> str | None:
    return page.evaluate("key => localStorage.getItem(key)", STORAGE_KEY)


def _wait_for_a_settled_write(page, before: str | None) -> None:
    """The fields reach localStorage through a server round trip (modules/ui/browser_state.py), seconds on a
    loaded machine: wait for a write after `before`, then for no further write for a second."""
    page.wait_for_function("([key, before]) => localStorage.getItem(key) !== before", arg=[STORAGE_KEY, before])
    last = _stored_fields(page)
    for _ in range(30):
        page.wait_for_timeout(1000)
        now = _stored_fields(page)
        if now == last:
            return
        last = now
    raise AssertionError("the stored fields kept changing for 30 s")


def test_prompt_and_fields_survive_a_reload(page):
    before = _stored_fields(page)
    page.locator("#txt2img_prompt textarea").fill("kept over a reload")
    _wait_for_a_settled_write(page, before)
    before = _stored_fields(page)
    set_number(page, "txt2img_steps", 33)
    _wait_for_a_settled_write(page, before)
    page.reload()
    page.wait_for_selector("#txt2img_prompt textarea")
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value == 'kept over a reload'")
    page.wait_for_function("() => document.querySelector('#txt2img_steps input[type=number]').value == '33'")
    assert number_value(page, "txt2img_steps") == "33"


def test_defaults_tab_writes_ui_config(page, server):
    set_number(page, "txt2img_steps", 28)
    select_tab(page, "Settings")
    page.locator("#settings button[role=tab]", has_text="Defaults").first.click()
    page.locator("#ui_defaults_apply").click()
    page.wait_for_function("() => document.getElementById('ui_defaults_review').innerText.includes('ui-config.json')")
    stored = json.loads((server.data_dir / "ui-config.json").read_text())
    assert stored["txt2img/Sampling steps/value"] == 28


def test_quicksettings_show_a_value_changed_elsewhere_after_a_reload(page, server):
    """The top bar's fields are built at start-up; a page load must show what the setting is now."""
    elem = "setting_CLIP_stop_at_last_layers"
    assert page.request.post(server.url + "/sdapi/v1/options", data={"CLIP_stop_at_last_layers": 2}).ok
    try:
        page.reload()
        page.wait_for_function(
            "id => { const e = document.querySelector(`#${id} input[type=number]`); return e && e.value == '2'; }",
            arg=elem)
        page.wait_for_timeout(500)  # the load's change event must not write anything back
        options = page.request.get(server.url + "/sdapi/v1/options").json()
        assert options["CLIP_stop_at_last_layers"] == 2
    finally:
        page.request.post(server.url + "/sdapi/v1/options", data={"CLIP_stop_at_last_layers": 1})


def test_old_hires_size_setting_hides_the_upscale_row_once_applied(page, server):
    """use_old_hires_fix_width_height makes width/height the final size: A1111's page hides hires fix's Upscale by
    and Resize rows; here the applied setting reaches the page's `opts` (onOptionsChanged) without a reload."""
    hidden = "() => getComputedStyle(document.getElementById('txt2img_hires_fix_row2')).display === 'none'"
    page.locator("#txt2img_hr").first.click()  # open the Hires. fix accordion
    page.wait_for_selector("#txt2img_hires_fix_row2", state="visible")
    select_tab(page, "Settings")
    page.locator("#settings button[role=tab]", has_text="Compatibility").first.click()
    page.locator("#setting_use_old_hires_fix_width_height input[type=checkbox]").first.check()
    try:
        apply_settings(page, "use_old_hires_fix_width_height")
        page.wait_for_function(hidden)
        page.reload()
        page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
        page.wait_for_function(hidden)
    finally:
        page.request.post(server.url + "/sdapi/v1/options", data={"use_old_hires_fix_width_height": False})
