"""Cluster flags without a cluster: a --ray-address that does not answer stops Easel with a message, a worker of
another version is refused naming both, the workers' command line, and no Ray import without the flags."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

import webui
from modules.app import VERSION
from modules.cluster import runtime
from modules.cluster.runtime import worker_argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_ray_address_that_does_not_answer_stops_easel(tmp_path, capsys):
    pytest.importorskip("ray")
    started = time.monotonic()
    code = webui.main(["--data-dir", str(tmp_path), "--ray-address", f"127.0.0.1:{free_port()}"])
    assert code == 2 and time.monotonic() - started < 60
    err = capsys.readouterr().err
    assert "--ray-address 127.0.0.1:" in err and "does not answer" in err and "did not start" in err


def test_worker_without_address_and_bad_worker_count_are_refused(tmp_path, capsys):
    assert webui.main(["--data-dir", str(tmp_path), "--worker"]) == 2
    assert webui.main(["--data-dir", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--worker needs --ray-address" in err and "--workers must be 1 or more, got 0" in err


def test_a_worker_of_another_version_is_refused_naming_both():
    from modules.cluster.worker import EaselWorker, VersionMismatch

    with pytest.raises(VersionMismatch) as caught:
        EaselWorker([], "0.0.0-other")
    assert VERSION in caught.value.message and "0.0.0-other" in caught.value.message


def test_workers_get_the_server_flags_less_the_cluster_ones():
    assert worker_argv(["--workers", "2", "--data-dir", "/d", "--ray-address=h:1"]) == ["--data-dir", "/d"]


def test_ray_is_not_imported_without_cluster_flags(tmp_path):
    code = ("import sys, webui; from modules import cli; "
            f"app = webui.build_app(cli.parse_args(['--data-dir', {str(tmp_path)!r}], env={{}})); "
            "app.jobs.start(); app.jobs.close(); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=str(webui.INSTALL_DIR))
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def test_workers_start_a_cluster_of_their_own_even_when_one_runs_here(monkeypatch, tmp_path):
    """ray.init() without an address joins a cluster already running on the machine (RAY_ADDRESS or Ray's
    /tmp/ray/ray_current_cluster): --workers must never hand jobs to someone else's cluster."""
    calls = []
    monkeypatch.setattr(runtime, "import_ray", lambda: type("FakeRay", (), {"init": staticmethod(
        lambda **kw: calls.append(kw))}))
    runtime.connect(2, None, tmp_path)
    [kwargs] = calls
    assert kwargs["address"] == "local" and kwargs["resources"] == {"easel_worker": 2}
