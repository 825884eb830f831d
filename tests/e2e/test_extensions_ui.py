"""The Extensions tab in a real browser, on its own server whose data dir holds an extension cloned from a local
git repository: its JavaScript runs in the page, file= serves its files, Install from URL installs another one
from a file:// URL, and unticking Enabled + Apply stores the disabled list."""
from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import CHROMIUM, PageGuard, Server, _data_dir, screenshot
from tests.e2e.helpers import select_tab
from tests.extensions import git, make_repo, url

EXT_JS = "onUiLoaded(() => { document.body.dataset.e2eExtension = 'loaded'; });\n"  # A1111's idiom


@pytest.fixture
def ext_server(tmp_path_factory, tiny_checkpoint):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (run_tests.sh installs it)")
    data = _data_dir(tmp_path_factory, tiny_checkpoint)
    sources = tmp_path_factory.mktemp("ext-sources")
    seeded = make_repo(sources, "e2e-ext", {"javascript/e2e.js": EXT_JS, "img/dot.svg": "<svg/>"})
    (data / "extensions").mkdir(exist_ok=True)
    git(data / "extensions", "clone", "-q", url(seeded), "e2e-ext")
    other = make_repo(sources, "second-ext", {"install.py": "import launch\nprint('ok', launch.is_installed('pip'))\n"})
    server = Server(data)
    server.start()
    yield server, url(other)
    server.stop()


@pytest.mark.slow  # its own server start: 20-60 s on a loaded 2-core machine
def test_extensions_tab_install_and_disable(ext_server, browser):
    server, other_url = ext_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # the session's Chromium, own context
    page = context.new_page()
    page.set_default_timeout(60_000)
    guard = PageGuard(page)
    try:
        _drive(page, server, other_url)
    except Exception:
        screenshot(page, "FAILED-test_extensions_tab_install_and_disable")
        raise
    finally:
        context.close()
    assert not guard.external and not guard.errors, (guard.external, guard.errors)


def _drive(page, server, other_url: str) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector("body.easel-loaded", state="attached")
    page.wait_for_function("() => document.body.dataset.e2eExtension === 'loaded'")  # the extension's JS ran
    assert page.request.get(server.url + "/file=extensions/e2e-ext/img/dot.svg").text() == "<svg/>"
    assert page.request.get(server.url + "/file=extensions/e2e-ext/.git/config").status == 404

    select_tab(page, "Extensions")
    _wait_for_row(page, "e2e-ext")

    page.locator("#tabs_extensions button[role=tab]", has_text="Install from URL").click()
    page.locator("#extensions_install_url textarea, #extensions_install_url input").first.fill(other_url)
    page.locator("#extensions_install_button").click()
    page.wait_for_function("() => document.getElementById('extensions_install_result').innerText"
                           ".includes('Installed second-ext')")
    assert (server.data_dir / "extensions" / "second-ext" / "install.py").is_file()

    page.locator("#tabs_extensions button[role=tab]", has_text="Installed").click()
    _wait_for_row(page, "second-ext")
    _untick_and_apply(page, "e2e-ext")
    assert "Restart Easel" in page.locator("#extensions_installed_result").inner_text()
    config = server.data_dir / "config.json"
    assert _disabled_on_disk(config) == ["e2e-ext"], _why_not_on_disk(config, server.log)


def _disabled_on_disk(config, timeout_s: float = 15.0):
    """`disabled_extensions` as config.json holds it once written: the file exists from start-up ({} when
    extensions load), and the page's result can be drawn a moment before a loaded disk has the new value."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = json.loads(config.read_text()).get("disabled_extensions")
        except (OSError, ValueError):  # not there yet, or caught mid-write
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _untick_and_apply(page, name: str, attempts: int = 3) -> None:
    """Untick `name`'s Enabled box and press Apply until the result says it is disabled. Under load the table can
    be drawn again after the click (the install above refreshes it) and the box is ticked again: the server then
    hears "disabled: none" (seen in a full run's server log), so the box is looked at again before each press."""
    for _ in range(attempts):
        box = page.locator("#extensions_installed_table [role=row]", has_text=name).first.locator(
            "input[type=checkbox]").first
        if box.is_checked():
            box.click()
        page.wait_for_timeout(500)
        page.locator("#extensions_apply").click()
        try:
            page.wait_for_function("(text) => document.getElementById('extensions_installed_result').innerText"
                                   ".includes(text)", arg=f"Disabled: {name}", timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(page.locator("#extensions_installed_result").inner_text())


def _why_not_on_disk(config, server_log) -> str:
    """What a failure needs to be understood (seen once in a full run, never alone): the file as it is, and what the
    server logged about settings and extensions."""
    text = config.read_text()[:400] if config.exists() else "(no config.json)"
    lines = server_log.read_text(errors="replace").splitlines() if server_log.exists() else []
    logged = [line for line in lines if "extension" in line or "config" in line or "setting" in line][-15:]
    return f"config.json: {text!r}\nserver log:\n" + "\n".join(logged)


def _wait_for_row(page, name: str) -> None:
    """Gradio's Dataframe draws its rows as [role=row] elements (a virtual table)."""
    page.wait_for_function("(n) => [...document.querySelectorAll('#extensions_installed_table [role=row]')]"
                           ".some(r => r.innerText.includes(n))", arg=name)
