"""Interrupt and queueing in the browser: a waiting job shows its place, Interrupt stops within two steps,
and both pages are ready for the next job."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.e2e.conftest import open_page, screenshot
from tests.e2e.helpers import set_number, small_txt2img, wait_for_infotext

LONG_STEPS = 150


def api_step(server) -> int:
    with urllib.request.urlopen(server.url + "/sdapi/v1/progress", timeout=5) as response:
        return int(json.load(response)["state"]["sampling_step"])


@pytest.mark.slow  # a server restart / a long job: 30-60 s on a loaded 2-core machine
def test_queue_position_interrupt_and_ready_again(page, browser, server):
    small_txt2img(page, "a very long job", seed=7, steps=LONG_STEPS)
    set_number(page, "txt2img_width", 512)
    set_number(page, "txt2img_height", 512)
    page.locator("#txt2img_generate").click()
    page.wait_for_function("() => +(document.querySelector('#txt2img_progress .progressDiv') || {dataset: {}})"
                           ".dataset.step >= 2", timeout=120_000)

    context, other, _ = open_page(browser, server)
    try:
        small_txt2img(other, "waiting its turn", seed=8, steps=2)
        other.locator("#txt2img_generate").click()
        other.wait_for_function("() => document.getElementById('txt2img_progress').innerText.includes('In queue: 2/2')")
        screenshot(other, "txt2img_queued")

        before = api_step(server)
        page.locator("#txt2img_interrupt").click()
        log = wait_for_infotext(page, "html_log_txt2img", "Interrupted at step")
        stopped = int(re.search(r"Interrupted at step (\d+) of (\d+)", log).group(1))
        assert stopped - before <= 2, (before, stopped)
        assert stopped < LONG_STEPS
        shown = int(page.locator("#txt2img_progress .progressDiv").get_attribute("data-percent"))
        assert abs(shown - 100 * stopped / LONG_STEPS) <= 5, (shown, stopped)  # the bar stays where it stopped

        wait_for_infotext(other, "html_info_txt2img", "Seed: 8")  # the queued job ran next
    finally:
        context.close()
    small_txt2img(page, "ready again", seed=9, steps=2)
    page.locator("#txt2img_generate").click()
    wait_for_infotext(page, "html_info_txt2img", "Seed: 9")
