"""Every tab rendered at 1280×800 and at 800 px wide: screenshots for a person to look at, and checks that
nothing spills sideways, that the A1111 element ids are there, and that no request leaves the machine."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import open_page, screenshot
from tests.e2e.helpers import select_tab

TABS = ("txt2img", "img2img", "Outpaint", "Extras", "PNG Info", "Settings", "Extensions")
A1111_IDS = ("txt2img_prompt", "txt2img_neg_prompt", "txt2img_width", "txt2img_height", "txt2img_steps",
             "txt2img_cfg_scale", "txt2img_seed", "txt2img_generate", "txt2img_gallery", "img2img_prompt",
             "img2img_neg_prompt", "img2img_width", "img2img_height", "img2img_steps", "img2img_cfg_scale",
             "img2img_seed", "img2img_generate", "img2img_gallery", "setting_sd_model_checkpoint", "quicksettings")


@pytest.mark.parametrize("width,height", [(1280, 800), (800, 900)])
def test_every_tab_lays_out_cleanly(browser, server, width, height):
    context, page, guard = open_page(browser, server, width, height)
    try:
        for label in TABS:
            select_tab(page, label)
            page.wait_for_timeout(300)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{label} at {width} px spills {overflow} px sideways"
            screenshot(page, f"tab-{label.replace(' ', '_').lower()}-{width}")
        assert not guard.errors, guard.errors
    finally:
        context.close()
    assert not guard.external, f"requests left the machine: {guard.external}"


def test_a1111_element_ids_and_browser_files(page):
    for elem_id in A1111_IDS:
        assert page.locator(f"#{elem_id}").count() >= 1, elem_id
    assert page.evaluate("() => typeof gradioApp === 'function' && typeof onUiLoaded === 'function'")
    assert page.evaluate("() => getComputedStyle(document.querySelector('.token-count')).position") != ""
    assert page.evaluate("() => [...document.styleSheets].some(s => (s.href || '').includes('/easel-assets/'))")


def test_ctrl_arrows_change_emphasis(page):
    box = page.locator("#txt2img_prompt textarea")
    box.fill("a cat on a mat")
    box.evaluate("e => e.setSelectionRange(2, 5)")
    box.press("Control+ArrowUp")
    assert box.input_value() == "a (cat:1.1) on a mat"
    box.press("Control+ArrowUp")
    assert box.input_value() == "a (cat:1.2) on a mat"
    box.press("Control+ArrowDown")
    box.press("Control+ArrowDown")
    assert box.input_value() == "a cat on a mat"
