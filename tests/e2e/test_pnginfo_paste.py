"""PNG Info reads Easel's and A1111's PNGs; paste (↙ and PNG drop) fills the generation fields."""
from __future__ import annotations

import base64
import io

from PIL import Image, PngImagePlugin

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import number_value, select_tab, wait_for_infotext

A1111_INFOTEXT = ("masterpiece, a lighthouse at dusk, (dramatic sky:1.2)\n"
                  "Negative prompt: blurry, lowres\n"
                  "Steps: 27, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 987654321, Size: 320x448, "
                  "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1")
EASEL_INFOTEXT = ("a quiet harbour\nSteps: 12, Sampler: Euler a, Schedule type: Automatic, CFG scale: 5, Seed: 42, "
                  "Size: 64x64, Model hash: 1a3cf2d9cd, Model: tiny-sd1-0, Version: easel-0.1.0")


def png_with(text: str, path=None) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    info.add_text("Software", "a painter")
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 80, 40)).save(buffer, format="PNG", pnginfo=info)
    if path is not None:
        path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def test_pnginfo_shows_parameters_of_easel_and_a1111_pngs(page, tmp_path):
    select_tab(page, "PNG Info")
    for name, text, expect in (("easel.png", EASEL_INFOTEXT, "Euler a"), ("a1111.png", A1111_INFOTEXT, "v1.10.1")):
        png_with(text, tmp_path / name)
        clear = page.locator("#pnginfo_image button[aria-label='Clear']")
        if clear.count():
            clear.first.click()
        page.locator("#pnginfo_image input[type=file]").set_input_files(str(tmp_path / name))
        page.wait_for_function("t => document.getElementById('pnginfo_html').innerText.includes(t)", arg=expect)
        shown = page.locator("#pnginfo_html").inner_text()
        assert "Software" in shown and "a painter" in shown
        assert text.splitlines()[0] in shown
    screenshot(page, "pnginfo")
    page.locator("#pnginfo_send_to_txt2img").click()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value.includes('lighthouse')")
    assert number_value(page, "txt2img_steps") == "27"


def _assert_pasted(page) -> None:
    page.wait_for_function("() => document.querySelector('#txt2img_steps input[type=number]').value == '27'")
    assert number_value(page, "txt2img_cfg_scale") == "6.5"
    assert number_value(page, "txt2img_width") == "320" and number_value(page, "txt2img_height") == "448"
    assert page.locator("#txt2img_seed input").input_value() == "987654321"
    assert page.locator("#txt2img_sampling input").input_value() == "DPM++ 2M"
    assert page.locator("#txt2img_scheduler input").input_value() == "Karras"
    assert page.locator("#txt2img_neg_prompt textarea").input_value() == "blurry, lowres"


def test_paste_button_fills_fields_from_an_a1111_infotext(page):
    page.locator("#txt2img_prompt textarea").fill(A1111_INFOTEXT)
    page.locator("#txt2img_paste").click()
    _assert_pasted(page)
    assert page.locator("#txt2img_prompt textarea").input_value().startswith("masterpiece, a lighthouse")


def test_dropping_a_png_on_the_prompt_fills_fields(page):
    data = base64.b64encode(png_with(A1111_INFOTEXT)).decode()
    transfer = page.evaluate_handle(
        """b64 => { const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                    const dt = new DataTransfer();
                    dt.items.add(new File([bytes], 'a1111.png', {type: 'image/png'})); return dt; }""", data)
    page.dispatch_event("#txt2img_prompt textarea", "drop", {"dataTransfer": transfer})
    _assert_pasted(page)


def test_pasted_settings_show_in_the_override_box_and_run(page):
    """Settings the infotext holds that no field shows land in A1111's Override settings box and apply to the
    next generation; pasting an infotext without them empties and hides the box again."""
    box = page.locator("#txt2img_override_settings")
    page.locator("#txt2img_prompt textarea").fill(EASEL_INFOTEXT.replace("Steps: 12", "Steps: 2") +
                                                   ", Token merging ratio: 0.3")
    page.locator("#txt2img_paste").click()
    box.wait_for(state="visible")
    assert "Token merging ratio: 0.3" in box.inner_text()
    page.locator("#txt2img_generate").click()
    text = wait_for_infotext(page, "html_info_txt2img", "Seed: 42")
    assert "Token merging ratio: 0.3" in text
    page.locator("#txt2img_prompt textarea").fill(EASEL_INFOTEXT)
    page.locator("#txt2img_paste").click()
    box.wait_for(state="hidden")
