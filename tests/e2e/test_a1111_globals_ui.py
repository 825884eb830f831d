"""A1111's page globals exist on Easel's page and work (javascript/ui-a1111.js, easel.js), and loading the page
logs no console error from Easel's own scripts."""
from __future__ import annotations

from PIL import Image

from tests.e2e.conftest import PageGuard

GLOBALS = ("gradioApp", "onUiLoaded", "onUiUpdate", "onAfterUiUpdate", "onUiTabChange", "onOptionsChanged",
           "executeCallbacks", "get_uiCurrentTab", "get_uiCurrentTabContent", "uiElementIsVisible",
           "uiElementInSight", "updateInput", "args_to_array", "randomId", "get_tab_index", "switch_to_txt2img",
           "switch_to_img2img", "switch_to_img2img_tab", "switch_to_sketch", "switch_to_inpaint",
           "switch_to_inpaint_sketch", "switch_to_extras", "get_img2img_tab_index", "all_gallery_buttons",
           "selected_gallery_button", "selected_gallery_index", "restart_reload", "confirm_clear_prompt", "popup",
           "closePopup", "appendContextMenuOption", "removeContextMenuOption", "addContextMenuEventListener",
           "showSubmitButtons", "getTranslation", "onOptionsAvailable", "localGet", "localSet", "localRemove",
           "inputAccordionChecked", "dimensionChange", "extensions_apply", "extensions_check", "setRandomSeed",
           "switchWidthHeight", "formatTime")


def test_a1111_globals_and_a_clean_console(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    guard = PageGuard(page)
    try:
        page.goto(server.url + "/")
        page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
        page.wait_for_function("() => typeof onOptionsChanged === 'function' && opts.samples_format === 'png'",
                               timeout=30_000)
        missing = page.evaluate("(names) => names.filter((n) => typeof window[n] !== 'function')", list(GLOBALS))
        assert missing == []
        assert page.evaluate("() => typeof titles === 'object' && typeof opts === 'object'")
        # opts is there already: a callback for it runs at once
        assert page.evaluate("() => { let ran = false; onOptionsAvailable(() => { ran = true; }); return ran; }")
        assert page.evaluate("() => { localSet('easel-e2e', 'x'); const v = localGet('easel-e2e'); "
                             "localRemove('easel-e2e'); return [v, localGet('easel-e2e')]; }") == ["x", None]
        assert page.evaluate("() => gradioApp().getElementById('txt2img_prompt') !== null")
        # Gradio 3's textbox DOM, as A1111-era selectors write it (sd-webui-enable-checker)
        assert page.evaluate("() => gradioApp().querySelector('#txt2img_prompt > label > textarea') === "
                             "gradioApp().querySelector('#txt2img_prompt textarea')")
        assert page.evaluate("() => document.querySelectorAll('#txt2img_prompt > label > textarea').length") == 1
        assert page.evaluate("() => get_uiCurrentTab().textContent.trim()") == "txt2img"
        # an extension's title for a button's text becomes its tooltip (applied as the page changes)
        page.evaluate("() => { titles['Generate'] = 'Make the picture'; }")
        page.evaluate("() => switch_to_img2img()")
        page.wait_for_function("() => get_uiCurrentTab().textContent.trim() === 'img2img'")
        assert page.evaluate("() => get_tab_index('mode_img2img')") == 0
        page.evaluate("() => switch_to_inpaint()")
        page.wait_for_function("() => get_tab_index('mode_img2img') === 2")
        page.evaluate("() => switch_to_txt2img()")
        page.wait_for_function("() => get_uiCurrentTab().textContent.trim() === 'txt2img'")
        assert page.evaluate("() => selected_gallery_index()") == -1  # nothing generated yet
        page.wait_for_function("() => document.querySelector('#txt2img_generate').title === 'Make the picture'"
                               " || document.querySelector('#txt2img_generate button')?.title === "
                               "'Make the picture'", timeout=10_000)
        page.evaluate("""() => { const box = gradioApp().querySelector('#txt2img_prompt textarea');
                                 box.value = 'set by a script'; updateInput(box); }""")
        page.locator("#txt2img_prompt textarea").press("End")
        assert page.locator("#txt2img_prompt textarea").input_value() == "set by a script"
        assert page.evaluate("() => [formatTime(5.5), formatTime(125), formatTime(3725)]") == ["5s", "02:05",
                                                                                             "01:02:05"]
        assert page.evaluate("() => extensions_apply('[\"a\"]', '[]', 'none')") == ['["a"]', "[]", "none"]
        page.locator("#txt2img_width input[type=number]").fill("512")  # A1111's ⇅ button: 512 × 768 → 768 × 512
        page.locator("#txt2img_height input[type=number]").fill("768")
        page.evaluate("() => switchWidthHeight('txt2img')")
        assert page.locator("#txt2img_width input[type=number]").input_value() == "768"
        assert page.locator("#txt2img_height input[type=number]").input_value() == "512"
        page.locator("#txt2img_seed input").fill("42")
        page.evaluate("() => setRandomSeed('txt2img_seed')")
        assert page.locator("#txt2img_seed input").input_value() == "-1"
        assert guard.errors == []
        assert console_errors == []
    finally:
        context.close()


def test_dimension_change_frames_the_part_of_the_img2img_image_the_size_covers(page, tmp_path):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (200, 100), "white").save(wide)
    page.evaluate("() => switch_to_img2img()")
    page.locator("#img2img_image input[type=file]").set_input_files(str(wide))
    page.wait_for_function("() => gradioApp().querySelector('#img2img_image img')?.naturalWidth === 200")
    # what sd-webui-aspect-ratio-helper does after setting the size itself: a square frame over a 2:1 image
    page.evaluate("() => { dimensionChange({target: {value: '64'}}, true, false); "
                  "dimensionChange({target: {value: '64'}}, false, true); }")
    display, width, height = page.evaluate("""() => { const f = document.querySelector('#imageARPreview');
        return [f.style.display, parseFloat(f.style.width), parseFloat(f.style.height)]; }""")
    # the image's shown height (it is wider than the frame): the frame spans it
    shown = page.evaluate("""() => { const i = gradioApp().querySelector('#img2img_image img');
        return 100 * Math.min(i.clientWidth / 200, i.clientHeight / 100); }""")
    assert display == "block" and abs(width - height) < 1 and abs(height - shown) < 1 and shown > 10
