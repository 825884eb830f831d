import webui
from modules import cli


def flags(*argv):
    return cli.parse_args(list(argv), env={})


def test_loopback_needs_no_auth():
    assert webui.check_exposure(flags()) is None
    assert webui.check_exposure(flags("--server-name", "127.0.0.2")) is None


def test_listen_without_auth_refuses_and_says_how():
    message = webui.check_exposure(flags("--listen"))
    assert "--api-auth USER:PASSWORD" in message and "--gradio-auth" in message and "--insecure" in message
    assert webui.check_exposure(flags("--listen", "--api-auth", "a:b", "--gradio-auth", "a:b")) is None
    assert webui.check_exposure(flags("--listen", "--insecure")) is None
    assert webui.check_exposure(flags("--server-name", "0.0.0.0", "--nowebui", "--api-auth", "a:b")) is None


def test_commandline_args_env_then_argv():
    parsed = cli.parse_args(["--port", "9000"], env={"COMMANDLINE_ARGS": "--port 8000 --no-half"})
    assert parsed.port == 9000 and parsed.no_half


def test_data_dir_moves_user_data(tmp_path):
    paths = webui.build_paths(flags("--data-dir", str(tmp_path)))
    assert paths.config_json == tmp_path / "config.json"
    assert paths.checkpoint_dir == tmp_path / "models" / "Stable-diffusion"
    assert paths.builtin_checkpoint_dir in paths.checkpoint_dirs


def test_first_page_signal_fires_once_the_page_is_sent():
    import asyncio
    import threading

    served, sent = threading.Event(), []

    async def page(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>", "more_body": True})
        sent.append(served.is_set())  # not before the last part
        await send({"type": "http.response.body", "body": b"</html>"})

    async def send(message):
        sent.append(message["type"])

    def run_in_own_thread(coroutine) -> None:
        """asyncio.run in a fresh thread: earlier tests (Playwright's sync API) may leave a loop running here."""
        errors: list[BaseException] = []
        worker = threading.Thread(target=lambda: _capture(errors, asyncio.run, coroutine))
        worker.start()
        worker.join()
        if errors:
            raise errors[0]

    wrapped = webui.FirstPageSignal(page, served)
    run_in_own_thread(wrapped({"type": "http", "path": "/assets/index.js"}, None, send))
    assert not served.is_set()
    run_in_own_thread(wrapped({"type": "http", "path": "/"}, None, send))
    assert served.is_set() and sent.count(False) == 2


def _capture(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as e:  # noqa: BLE001 - handed back to the test's thread
        errors.append(e)


class _Listener:
    def __init__(self, started: bool, should_exit: bool = False):
        self.started, self.should_exit = started, should_exit


class _App:
    def __init__(self):
        self.warmed = 0

    def warm_up(self):
        self.warmed += 1


def test_warm_up_waits_for_the_server_then_for_the_page_at_most_wait_s():
    import threading

    app, served = _App(), threading.Event()
    webui.warm_up_when_listening(_Listener(started=False, should_exit=True), app, served, 0.0)
    assert app.warmed == 0  # the server never started: nothing to warm for
    webui.warm_up_when_listening(_Listener(started=True), app, served, 0.01)
    assert app.warmed == 1  # no page asked for (API only, no browser yet): it starts anyway


def test_vram_flags_are_explained_at_start_not_ignored(caplog, monkeypatch, tmp_path):
    """--medvram/--lowvram/--lowram: said in the console before anything starts (here main stops right after,
    refusing --listen without a password)."""
    for key, value in webui.OFFLINE_ENVIRONMENT:
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COMMANDLINE_ARGS", "")
    monkeypatch.setattr("modules.allocator.configure_at_start", lambda: "unchanged")  # no mallopt in pytest
    with caplog.at_level("WARNING", logger="easel"):
        assert webui.main(["--medvram", "--lowram", "--listen", "--data-dir", str(tmp_path)]) == 2
    said = [r.getMessage() for r in caplog.records if "--medvram and --lowram" in r.getMessage()]
    assert said and "no effect on the CPU" in said[0] and "refused on a GPU" in said[0]


def test_the_offline_environment_is_set_by_main_not_by_importing():
    import os
    import subprocess
    import sys
    from pathlib import Path

    environ = {"HF_HUB_OFFLINE": "0"}
    webui.set_offline_environment(environ)
    assert environ["HF_HUB_OFFLINE"] == "0"  # the user's choice stays
    assert environ["GRADIO_ANALYTICS_ENABLED"] == "False" and environ["DIFFUSERS_OFFLINE"] == "1"
    clean = {k: v for k, v in os.environ.items() if k not in dict(webui.OFFLINE_ENVIRONMENT)}
    code = "import os, webui; print(sorted(k for k, _ in webui.OFFLINE_ENVIRONMENT if k in os.environ))"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(webui.__file__).parent, env=clean,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
