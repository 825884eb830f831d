"""The queue across a crash, against a real server: kill -9 with jobs queued, restart, all complete."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.api.server_process import REPO, ServerProcess, data_dir_with

JOB = {"width": 64, "height": 64, "steps": 2, "sampler_name": "Euler"}


@pytest.mark.slow
def test_kill_9_with_five_jobs_queued_then_restart_completes_them(tiny_checkpoint, tmp_path):
    data_dir = data_dir_with(tiny_checkpoint, tmp_path)
    server = ServerProcess(data_dir)
    try:
        # the first job keeps the worker busy so the other four are still queued at the kill
        ids = [requests.post(server.url + "/easel/v1/jobs/txt2img", timeout=30,
                             json={**JOB, "prompt": f"job {n}", "seed": 500 + n,
                                   "steps": 200 if n == 0 else 2}).json()["id"] for n in range(5)]
        deadline = time.time() + 60
        while requests.get(f"{server.url}/easel/v1/jobs/{ids[0]}", timeout=10).json()["status"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
        statuses = [requests.get(f"{server.url}/easel/v1/jobs/{i}", timeout=10).json()["status"] for i in ids]
        assert statuses == ["running"] + ["queued"] * 4
    finally:
        server.kill()
    assert server.proc.returncode == -9

    # the job that was running when killed starts again from its stored request, ahead of the other four
    restarted = ServerProcess(data_dir, port=server.port)
    try:
        for n, job_id in enumerate(ids):
            r = requests.get(f"{restarted.url}/easel/v1/jobs/{job_id}/result", params={"wait": 300}, timeout=320)
            assert r.status_code == 200, r.text[:300]
            body = r.json()
            assert body["status"] == "done" and len(body["images"]) == 1
            info = json.loads(body["info"])
            assert info["prompt"] == f"job {n}" and info["all_seeds"] == [500 + n]
        assert requests.get(f"{restarted.url}/easel/v1/jobs", timeout=10).json() == []  # fetched → deleted
    finally:
        restarted.stop()


def test_listen_without_auth_refuses_to_start_and_says_how(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "webui.py"), "--listen", "--nowebui", "--data-dir",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "COMMANDLINE_ARGS": ""})
    assert proc.returncode == 2
    assert "--api-auth USER:PASSWORD" in proc.stderr and "--insecure" in proc.stderr
    assert not (tmp_path / "jobs.sqlite").exists()  # refused before anything was built
