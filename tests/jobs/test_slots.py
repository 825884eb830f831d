"""The queue with several worker slots (what a cluster adds, without Ray): model affinity, a lost worker's job
run again exactly once, a slot added later gets work, and the reason a job waits (docs/cluster.md)."""
from __future__ import annotations

import threading
import time

from modules.jobs import JobQueue, JobStore
from modules.jobs.slots import WorkerLost, WorkerSlot
from modules.pipeline.request import GenerationRequest
from modules.pipeline.result import GenerationResult


def result_for(request) -> GenerationResult:
    return GenerationResult(images=[], infotexts=[], all_prompts=[request.prompt], all_negative_prompts=[""],
                            all_seeds=[request.seed], all_subseeds=[0], info={"prompt": request.prompt})


def model_of(kind, request):
    return (request.override_settings or {}).get("sd_model_checkpoint")


def queue_with(*slots: WorkerSlot) -> JobQueue:
    queue = JobQueue(JobStore(":memory:"), lambda kind, request, job: result_for(request),
                     {"txt2img": GenerationRequest}, model_of=model_of)
    queue.remove_slot("local")
    for slot in slots:
        queue.add_slot(slot)
    return queue


def req(n: int, model: str | None = None) -> GenerationRequest:
    return GenerationRequest(prompt=f"p{n}", seed=n, override_settings={"sd_model_checkpoint": model} if model else {})


def recording_slot(name: str, runs: list, model: str | None = None, delay: float = 0.01) -> WorkerSlot:
    def execute(kind, request, job):
        time.sleep(delay)
        runs.append((name, request.prompt))
        return result_for(request)

    return WorkerSlot(name, execute, model=model)


def finish(queue: JobQueue, jobs) -> list:
    assert all(queue.wait(job.id, 20) for job in jobs)
    return [queue.store.get(job.id) for job in jobs]


def test_jobs_stay_with_the_worker_holding_their_checkpoint():
    runs: list = []
    queue = queue_with(recording_slot("a", runs, "m1"), recording_slot("b", runs, "m2"))
    jobs = [queue.submit("txt2img", req(n, "m1" if n % 2 else "m2")) for n in range(12)]
    queue.start()
    records = finish(queue, jobs)
    queue.close()
    assert {r.worker for r in records if r.model == "m1"} == {"a"}
    assert {r.worker for r in records if r.model == "m2"} == {"b"}


def test_a_lost_worker_s_job_runs_again_once_elsewhere():
    runs: list = []
    lost = threading.Event()

    def dying(kind, request, job):
        lost.set()
        raise WorkerLost("process killed")

    queue = queue_with(WorkerSlot("dying", dying))
    job = queue.submit("txt2img", req(1))
    queue.start()
    assert lost.wait(10)
    time.sleep(0.2)
    assert queue.state(job.id).status == "queued"  # back in the queue, not failed
    assert queue.state(job.id).waiting_for == "no worker is connected yet"
    queue.add_slot(recording_slot("later", runs))  # a worker that joins later gets it at once
    (record,) = finish(queue, [job])
    queue.close()
    assert record.status == "done" and record.worker == "later"
    assert runs == [("later", "p1")]  # exactly once to completion
    assert [slot.name for slot in queue.slots()] == ["later"]


def test_a_job_for_a_checkpoint_no_worker_has_says_why_it_waits():
    slot = recording_slot("a", [])
    slot.fits = lambda model: model in (None, "m1")
    queue = queue_with(slot)
    job = queue.submit("txt2img", req(1, "m9"))
    queue.start()
    time.sleep(0.3)
    state = queue.state(job.id)
    queue.close()
    assert state.status == "queued" and "m9" in state.waiting_for and state.as_dict()["waiting_for"]


def test_store_columns_are_added_to_an_older_jobs_file(tmp_path):
    import sqlite3

    path = tmp_path / "jobs.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, kind TEXT NOT "
               "NULL, request TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL, started REAL, finished "
               "REAL, error TEXT, error_status INTEGER, result TEXT)")
    db.execute("INSERT INTO jobs (id, kind, request, status, created) VALUES ('old', 'txt2img', '{}', 'running', 1)")
    db.commit()
    db.close()
    store = JobStore(path)
    record = store.get("old")
    assert record.status == "queued" and record.model is None and record.worker is None
    store.close()
