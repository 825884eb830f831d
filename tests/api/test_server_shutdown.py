"""SIGTERM (what Ctrl+C, systemd and the test fixtures send) ends the server promptly even while a client holds an
open stream and a job runs; the job is not lost (the queue is on disk)."""
from __future__ import annotations

import threading
import time

import requests

from tests.api.server_process import ServerProcess, data_dir_with

LONG_JOB = {"prompt": "a long job", "width": 256, "height": 256, "steps": 1000, "sampler_name": "Euler", "seed": 3}


def test_sigterm_exits_within_seconds_while_a_stream_is_open(tiny_checkpoint, tmp_path):
    data_dir = data_dir_with(tiny_checkpoint, tmp_path)
    server = ServerProcess(data_dir)
    try:
        job_id = requests.post(server.url + "/easel/v1/jobs/txt2img", json=LONG_JOB, timeout=30).json()["id"]
        deadline = time.time() + 60
        while requests.get(f"{server.url}/easel/v1/jobs/{job_id}", timeout=10).json()["status"] != "running":
            assert time.time() < deadline, "the job never started"
            time.sleep(0.05)
        opened = threading.Event()

        def hold_the_stream():  # an open page or client: an event stream that lasts as long as the job
            try:
                with requests.get(f"{server.url}/easel/v1/jobs/{job_id}/events", stream=True, timeout=120) as r:
                    for _ in r.iter_lines():
                        opened.set()
            except requests.RequestException:
                pass

        threading.Thread(target=hold_the_stream, daemon=True).start()
        assert opened.wait(30)
        started = time.time()
        server.proc.terminate()
        server.proc.wait(60)
        took = time.time() - started
    finally:
        server.kill()
    assert took < 12, f"the server took {took:.1f} s to exit after SIGTERM"
    restarted = ServerProcess(data_dir, port=server.port)
    try:
        listed = {j["id"]: j["status"] for j in requests.get(f"{restarted.url}/easel/v1/jobs", timeout=10).json()}
        assert listed.get(job_id) in ("queued", "running"), listed
        requests.post(f"{restarted.url}/easel/v1/jobs/{job_id}/cancel", timeout=10)
    finally:
        restarted.stop()
