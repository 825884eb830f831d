"""JobQueue with a fake worker function: FIFO, no overlap, sync waiters, errors, cancel, restart resumes."""
from __future__ import annotations

import threading
import time

import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.jobs import JobQueue, JobStore
from modules.jobs.codec import encode_request
from modules.pipeline.request import GenerationRequest
from modules.pipeline.result import GenerationResult

TYPES = {"txt2img": GenerationRequest}


class FakeWorker:
    """Records the order of jobs and whether two ever ran at once; steps a fake sampler for `steps` steps."""

    def __init__(self, step_seconds=0.0, gate: threading.Event | None = None):
        self.order: list[str] = []
        self.active, self.overlap = 0, False
        self.step_seconds, self.gate = step_seconds, gate
        self.lock = threading.Lock()

    def __call__(self, kind, req, job):
        with self.lock:
            self.active += 1
            self.overlap |= self.active > 1
            self.order.append(req.prompt)
        try:
            if self.gate is not None:
                self.gate.wait(10)
            if req.prompt == "bad":
                raise InvalidInput("width", "7 is out of range", "64 to 2048")
            if req.prompt == "bug":
                raise RuntimeError("boom")
            job.begin_pass(0, req.steps)
            for step in range(1, req.steps + 1):
                time.sleep(self.step_seconds)
                if job.interrupted:
                    break
                job.on_step(step)
            image = Image.new("RGB", (8, 8), (req.seed % 256, 0, 0))
            info = {"prompt": req.prompt, "seed": req.seed}
            return GenerationResult([image], [f"{req.prompt}\nSteps: 1, Seed: {req.seed}"], [req.prompt], [""],
                                    [req.seed], [req.seed], info, interrupted=job.interrupted)
        finally:
            with self.lock:
                self.active -= 1


def make_queue(path, worker):
    return JobQueue(JobStore(path), worker, TYPES)


def test_sync_runs_are_serialized_in_order_and_get_their_own_result(tmp_path):
    worker = FakeWorker(step_seconds=0.002)
    queue = make_queue(tmp_path / "jobs.sqlite", worker)
    results = {}

    def client(n):
        results[n] = queue.run("txt2img", GenerationRequest(prompt=f"p{n}", seed=n, steps=3))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not worker.overlap and sorted(worker.order) == [f"p{n}" for n in range(8)]
    assert all(results[n].info == {"prompt": f"p{n}", "seed": n} for n in range(8))
    assert queue.store.list() == []  # in-process waiters take their results; nothing is left behind
    queue.close()


def test_errors_reach_the_waiter_and_the_store(tmp_path):
    queue = make_queue(tmp_path / "jobs.sqlite", FakeWorker())
    with pytest.raises(InvalidInput, match="width"):
        queue.run("txt2img", GenerationRequest(prompt="bad"))
    job = queue.submit("txt2img", GenerationRequest(prompt="bug"))
    assert queue.wait(job.id, 10)
    state = queue.state(job.id)
    assert state.status == "failed" and state.error_status == 500 and "RuntimeError: boom" in state.error
    assert queue.run("txt2img", GenerationRequest(prompt="after", steps=1)).info["prompt"] == "after"
    queue.close()


def test_async_results_are_kept_until_forgotten(tmp_path):
    queue = make_queue(tmp_path / "jobs.sqlite", FakeWorker())
    job = queue.submit("txt2img", GenerationRequest(prompt="cat", seed=7, steps=2))
    assert queue.wait(job.id, 10)
    record, pngs = queue.result(job.id)
    assert record.status == "done" and record.result["info"]["seed"] == 7
    assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG")
    queue.forget(job.id)
    assert queue.result(job.id) is None and queue.state(job.id) is None
    queue.close()


def test_cancel_queued_and_running(tmp_path):
    gate = threading.Event()
    worker = FakeWorker(step_seconds=0.01, gate=gate)
    queue = make_queue(tmp_path / "jobs.sqlite", worker)
    first = queue.submit("txt2img", GenerationRequest(prompt="first", steps=500))
    second = queue.submit("txt2img", GenerationRequest(prompt="second"))
    deadline = time.time() + 10
    while queue.state(first.id).status != "running" and time.time() < deadline:
        time.sleep(0.01)
    assert queue.state(second.id).position == 0
    assert queue.cancel(second.id).status == "cancelled"
    gate.set()
    queue.cancel(first.id)
    assert queue.wait(first.id, 10)
    record, pngs = queue.result(first.id)
    assert record.status == "cancelled" and record.result["interrupted"] and len(pngs) == 1
    assert worker.order == ["first"]
    queue.close()


def test_restart_resumes_queued_jobs_in_order(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(path)  # a previous run that accepted jobs, then died before its worker ran them
    for n in range(5):
        store.add(f"job{n}", "txt2img", encode_request(GenerationRequest(prompt=f"p{n}", seed=n, steps=1)))
    store.mark_running("job0")
    worker = FakeWorker()
    queue = make_queue(path, worker)
    queue.start()
    for n in range(5):
        assert queue.wait(f"job{n}", 10)
    assert worker.order == [f"p{n}" for n in range(5)]
    assert all(queue.result(f"job{n}")[0].result["info"]["seed"] == n for n in range(5))
    queue.close()


def test_a_duplicate_job_id_is_refused_without_touching_the_first(tmp_path):
    from modules.pipeline.job import Job

    gate = threading.Event()
    queue = make_queue(tmp_path / "jobs.sqlite", FakeWorker(gate=gate))
    first = queue.submit("txt2img", GenerationRequest(prompt="one", steps=1), Job(job_id="same"))
    with pytest.raises(InvalidInput, match="already exists"):
        queue.submit("txt2img", GenerationRequest(prompt="two", steps=1), Job(job_id="same"))
    assert queue.live_job("same") is first
    gate.set()
    assert queue.wait("same", 10) and queue.result("same")[0].result["info"]["prompt"] == "one"
    queue.close()


def test_a_lone_surrogate_is_refused_naming_the_field_and_nothing_is_stored(tmp_path):
    """The UI reaches the queue without the API's edge check: the store could not write such text (it raised
    UnicodeEncodeError from sqlite)."""
    queue = make_queue(tmp_path / "jobs.sqlite", FakeWorker())
    try:
        with pytest.raises(InvalidInput, match="surrogate") as caught:
            queue.submit("txt2img", GenerationRequest(prompt="ok", negative_prompt="a \ud800 star"))
        assert caught.value.field == "negative_prompt"
        assert queue.store.list() == []
    finally:
        queue.close()
