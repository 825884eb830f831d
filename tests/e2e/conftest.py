"""Browser tests: a real Easel server (webui.py on a free port, fresh data dir with the tiny checkpoint) driven by
Playwright through Debian's Chromium. Every request the page makes must stay on this machine."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", ""}

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 90.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"Easel exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Easel did not answer at {url} within {timeout} s")


class Server:
    """One webui.py process over `data_dir`; restartable (settings must survive it)."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    def start(self) -> None:
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "COMMANDLINE_ARGS": ""}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "webui.py"), "--data-dir", str(self.data_dir), "--port", str(self.port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.url + "/", self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _data_dir(tmp_path_factory, checkpoint: Path) -> Path:
    data = tmp_path_factory.mktemp("e2e-data")
    target = data / "models" / "Stable-diffusion"
    target.mkdir(parents=True)
    for file in checkpoint.parent.glob(checkpoint.stem + ".*"):
        shutil.copy(file, target / file.name)
    return data


RECORDER = ROOT / "tests" / "fixtures" / "extensions" / "hook_recorder"
TYPICAL = ROOT / "tests" / "fixtures" / "extensions" / "typical_author"
LOCALIZED = ROOT / "tests" / "fixtures" / "extensions" / "localization_xx"


@pytest.fixture(scope="session")
def server(tmp_path_factory, tiny_checkpoint):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (run_tests.sh installs it)")
    data = _data_dir(tmp_path_factory, tiny_checkpoint)
    # every browser test runs beside a user extension using every hook: the page must work as well with it
    shutil.copytree(RECORDER, data / "extensions" / "sd-webui-hook-recorder")
    shutil.copytree(TYPICAL, data / "extensions" / "sd-webui-simple-frame")  # Gradio-3 idioms, A1111 style
    shutil.copytree(LOCALIZED, data / "extensions" / "sd-webui-localization-xx")  # chosen only by its own tests
    srv = Server(data)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageGuard:
    """Records every request that would leave this machine and every page error."""

    def __init__(self, page):
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _request(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("data", "blob") or url.hostname in LOCAL_HOSTS:
            return
        self.external.append(request.url)


def open_page(browser, server, width: int = 1280, height: int = 800):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    guard = PageGuard(page)
    page.goto(server.url + "/")
    page.wait_for_selector("#txt2img_prompt textarea", timeout=60_000)
    # every tab is mounted before onUiLoaded (javascript/easel.js): seconds after the prompt shows, on a busy machine
    page.wait_for_selector("body.easel-loaded", state="attached", timeout=60_000)
    # Gradio adds the <head> scripts one at a time: easel.js (first) may have run long before the others
    page.wait_for_function("() => [typeof easelEditAttention, typeof easelSetHints, typeof easelRightToLeft]"
                           ".every(t => t === 'function')", timeout=30_000)
    return context, page, guard


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(request, browser, server):
    context, page, guard = open_page(browser, server)
    page.set_default_timeout(30_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()
    assert not guard.external, f"requests left the machine: {guard.external}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
