"""Keyboard and phone use of the txt2img tab: a tab order that follows the page and never drops to <body>, a
generation without the mouse, dropdowns that close when left, and a 390 px layout with the prompt and Generate on
the first screen and nothing overlapping."""
from __future__ import annotations

from tests.e2e.conftest import open_page, screenshot
from tests.e2e.helpers import wait_for_infotext

# What Tab visits from the prompt, by the nearest A1111 element id (consecutive stops in one control merged);
# txt2img_enable is the Refiner accordion, beside Hires. fix in A1111's "accordions" section.
TAB_ORDER = ["txt2img_neg_prompt", "txt2img_interrupt", "txt2img_skip", "txt2img_generate", "txt2img_paste",
             "txt2img_clear_prompt", "txt2img_style_apply", "txt2img_style_create", "txt2img_styles",
             "txt2img_generation_tab-button", "txt2img_textual_inversion-button", "txt2img_hypernetworks-button",
             "txt2img_checkpoints-button", "txt2img_lora-button",  # A1111's Extra Networks tabs (docs/ui.md)
             "txt2img_sampling", "txt2img_scheduler", "txt2img_steps", "txt2img_hr", "txt2img_enable", "txt2img_width",
             "txt2img_height", "txt2img_res_switch_btn", "txt2img_batch_count", "txt2img_batch_size",
             "txt2img_cfg_scale", "txt2img_seed", "txt2img_random_seed", "txt2img_reuse_seed"]

FOCUSED = """() => { const e = document.activeElement;
    if (!e || e === document.body) return 'BODY';
    for (let n = e; n; n = n.parentElement) if (n.id && n.id.startsWith('txt2img_')) return n.id;
    return e.tagName; }"""


def tab_stops(page, presses: int) -> list[str]:
    stops: list[str] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        where = page.evaluate(FOCUSED)
        if not stops or stops[-1] != where:
            stops.append(where)
    return stops


def test_tab_order_follows_the_page(page):
    page.locator("#txt2img_prompt textarea").focus()
    stops = tab_stops(page, 44)
    assert "BODY" not in stops
    assert stops[:len(TAB_ORDER)] == TAB_ORDER


def test_keyboard_only_generation_and_dropdowns_close_when_left(page):
    page.locator("body").focus()
    for _ in range(40):  # from the top of the page to the prompt, by Tab alone
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED) == "txt2img_prompt":
            break
    assert page.evaluate(FOCUSED) == "txt2img_prompt"
    page.keyboard.type("a blue square")
    stops = tab_stops(page, 4)
    assert stops[-1] == "txt2img_generate" and "BODY" not in stops
    page.keyboard.press("Enter")
    wait_for_infotext(page, "html_info_txt2img", "a blue square")
    page.wait_for_selector("#txt2img_gallery img")

    page.locator("#txt2img_sampling input").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#txt2img_sampling ul[role=listbox]")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "txt2img_scheduler"
    page.wait_for_selector("#txt2img_sampling ul[role=listbox]", state="detached")


def test_phone_layout_puts_prompt_and_generate_on_the_first_screen(browser, server):
    context, phone, _ = open_page(browser, server, width=390, height=844)
    try:
        generate = phone.locator("#txt2img_generate").bounding_box()
        prompt = phone.locator("#txt2img_prompt textarea").bounding_box()
        assert prompt["y"] >= 0 and generate["y"] + generate["height"] <= 844, generate
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways page scroll
        overlap = phone.evaluate("""() => {
            const box = (s) => document.querySelector(s).getBoundingClientRect();
            const ta = document.querySelector('#txt2img_prompt textarea');
            const textRight = box('#txt2img_prompt textarea').right - parseFloat(getComputedStyle(ta).paddingRight);
            const input = document.querySelector('#setting_sd_model_checkpoint input');
            const inputRight = box('#setting_sd_model_checkpoint input').right
                - parseFloat(getComputedStyle(input).paddingRight);
            return {counter: textRight - box('#txt2img_token_counter .token-count').left,
                    caret: inputRight - box('#setting_sd_model_checkpoint .icon-wrap').left}; }""")
        assert overlap["counter"] <= 0 and overlap["caret"] <= 0, overlap
        screenshot(phone, "txt2img_phone_390")
    finally:
        context.close()
