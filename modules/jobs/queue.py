"""The FIFO job queue: one loop per worker slot runs jobs one at a time; UI and API both submit here.

Overlapping requests are serialized, never mixed: each job has its own `Job` (progress, preview, interrupt) and
its own options snapshot. Accepted jobs are on disk first, so a restart resumes them in their order. Without a
cluster there is one slot, this process (`local`); a cluster (modules/cluster) adds a slot per remote worker and
the queue hands each the job `pick_job` chooses (docs/cluster.md).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modules.errors import EaselError, InvalidInput, NotFound
from modules.jobs.codec import decode_request, encode_request, png_bytes
from modules.jobs.slots import Execute, QueuedJob, WorkerLost, WorkerSlot, pick_job
from modules.jobs.store import CANCELLED, DONE, QUEUED, RUNNING, JobRecord, JobStore
from modules.pipeline.job import Job, Progress

log = logging.getLogger(__name__)

RESULT_RETENTION_S = 30 * 86400
ModelOf = Callable[[str, Any], "str | None"]  # (kind, request) → the checkpoint it asks for (model affinity)


@dataclass(frozen=True)
class JobState:
    """What the status route and the event stream report about one job."""

    id: str
    kind: str
    status: str
    position: int | None  # place in the queue (0 = next), None once it runs
    progress: Progress | None
    error: str | None
    error_status: int | None
    created: float
    started: float | None
    finished: float | None
    worker: str | None = None
    waiting_for: str | None = None  # why a queued job cannot start (no worker has its checkpoint, none connected)

    def as_dict(self) -> dict:
        progress = self.progress
        return {"id": self.id, "kind": self.kind, "status": self.status, "position": self.position,
                "progress": progress.fraction if progress else (1.0 if self.status == DONE else 0.0),
                "eta_relative": progress.eta_seconds if progress else None,
                "sampling_step": progress.sampling_step if progress else None,
                "sampling_steps": progress.sampling_steps if progress else None,
                "textinfo": progress.textinfo if progress else None,
                "error": self.error, "error_status": self.error_status,
                "created": self.created, "started": self.started, "finished": self.finished, "worker": self.worker,
                "waiting_for": self.waiting_for}


def result_payload(result) -> dict:
    """The JSON part of a finished job (images are stored separately as PNG)."""
    return {"info": result.info, "infotexts": list(result.infotexts), "interrupted": bool(result.interrupted),
            "warnings": list(result.warnings)}


class JobQueue:
    """Owner of the jobs: submit, wait, cancel, status, results. `execute` does the work of one job."""

    def __init__(self, store: JobStore, execute: Execute, request_types: Mapping[str, type],
                 model_of: ModelOf | None = None):
        self.store = store
        self._types = dict(request_types)
        self._model_of = model_of or (lambda kind, request: None)
        self._cond = threading.Condition()
        self._live: dict[str, Job] = {}
        self._requests: dict[str, Any] = {}  # in-memory requests of this run (skips decoding)
        self._done: dict[str, threading.Event] = {}
        self._waited: set[str] = set()  # jobs whose submitter waits in-process for the result object
        self._outcomes: dict[str, Any] = {}  # GenerationResult or EaselError, for in-process waiters
        self._cancelled: set[str] = set()
        self._slots: dict[str, WorkerSlot] = {"local": WorkerSlot("local", execute)}
        self._threads: dict[str, threading.Thread] = {}
        self._stopping = False
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the slots' loops (idempotent); they resume jobs a previous run left queued or running, oldest first.

        Results nobody fetched within RESULT_RETENTION_S are dropped then, so the file cannot grow without end.
        """
        with self._cond:
            if not self._started:
                dropped = self.store.prune(RESULT_RETENTION_S)
                if dropped:
                    log.info("dropped %d job results unfetched for %d days", dropped, RESULT_RETENTION_S // 86400)
                self._started, self._stopping = True, False
            for slot in self._slots.values():
                self._start_loop(slot)

    def _start_loop(self, slot: WorkerSlot) -> None:
        thread = self._threads.get(slot.name)
        if slot.alive and (thread is None or not thread.is_alive()):
            thread = threading.Thread(target=self._loop, args=(slot,), name=f"easel-job-{slot.name}", daemon=True)
            self._threads[slot.name] = thread
            thread.start()

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            running = [self._live.get(slot.running) for slot in self._slots.values() if slot.running]
        for job in running:
            if job is not None:
                job.interrupt()
        for thread in list(self._threads.values()):
            thread.join(timeout)
        self.store.close()

    # -- slots ------------------------------------------------------------------------------------------------
    def add_slot(self, slot: WorkerSlot) -> None:
        """A new place to run jobs (a cluster worker); it gets work at once."""
        with self._cond:
            self._slots[slot.name] = slot
            if self._started and not self._stopping:
                self._start_loop(slot)
            self._cond.notify_all()

    def remove_slot(self, name: str) -> None:
        """Stop giving work to a slot; a job it runs finishes (or comes back as WorkerLost)."""
        with self._cond:
            slot = self._slots.pop(name, None)
            if slot is not None:
                slot.alive = False
            self._cond.notify_all()

    def slots(self) -> list[WorkerSlot]:
        with self._cond:
            return list(self._slots.values())

    def workers_status(self) -> dict:
        """Each slot (this process, or the cluster's workers: docs/cluster.md) and how many jobs wait: what
        /easel/v1/workers answers and Settings > Workers shows."""
        return {"workers": [slot.as_dict() for slot in self.slots()], "queued": len(self.store.queued_ids())}

    @property
    def current(self) -> Job | None:
        """The job that started first among those running (A1111's single "current job" of /progress)."""
        with self._cond:
            ids = [slot.running for slot in self._slots.values() if slot.running]
        jobs = [self._live[i] for i in ids if i in self._live]
        return min(jobs, key=lambda job: job.started) if jobs else None

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._types)

    def request_type(self, kind: str) -> type:
        return self._types[kind]

    # -- submitting -------------------------------------------------------------------------------------------
    def submit(self, kind: str, request: Any, job: Job | None = None, wait: bool = False) -> Job:
        """Queue `request`; returns its live Job (whose id is the job id). `wait`: the caller waits in-process for
        the result object (`run`), so it is handed over instead of stored."""
        if kind not in self._types:
            raise NotFound(f"job kind {kind!r} is not available (valid: {', '.join(self._types)})")
        job = job or Job(job_count=getattr(request, "n_iter", 1))
        text = encode_request(request)
        model = self._model_of(kind, request)
        with self._cond:
            try:
                self.store.add(job.id, kind, text, model)
            except sqlite3.IntegrityError:
                raise InvalidInput("job id", f"a job {job.id!r} already exists", "a new id") from None
            self._live[job.id] = job
            self._requests[job.id] = request
            self._done[job.id] = threading.Event()
            if wait:
                self._waited.add(job.id)
            self._cond.notify_all()
        self.start()
        return job

    def run(self, kind: str, request: Any, job: Job | None = None):
        """Submit and wait: the synchronous path of the UI and of A1111's routes. Raises the job's EaselError."""
        job = self.submit(kind, request, job, wait=True)
        self._done[job.id].wait()
        with self._cond:
            outcome = self._outcomes.pop(job.id)
            self._done.pop(job.id, None)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    # -- asking -----------------------------------------------------------------------------------------------
    def state(self, job_id: str) -> JobState | None:
        record = self.store.get(job_id)
        if record is None:
            return None
        live = self._live.get(job_id)
        progress = live.progress() if live is not None and record.status == RUNNING else None
        position = None
        if record.status == QUEUED:
            ids = self.store.queued_ids()
            position = ids.index(job_id) if job_id in ids else None
        return JobState(record.id, record.kind, record.status, position, progress, record.error,
                        record.error_status, record.created, record.started, record.finished, record.worker,
                        self._waiting_for(record) if record.status == QUEUED else None)

    def _waiting_for(self, record: JobRecord) -> str | None:
        slots = [slot for slot in self.slots() if slot.alive]
        if not slots:
            return "no worker is connected yet"
        if not any(slot.fits(record.model) for slot in slots):
            return f"no connected worker has the checkpoint {record.model!r}"
        return None

    def live_job(self, job_id: str) -> Job | None:
        return self._live.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """True once the job has finished (done, failed or cancelled)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            event = self._done.get(job_id)
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if event is not None:  # submitted in this run: wake exactly when it ends
                return event.wait(left)
            record = self.store.get(job_id)  # resumed from a previous run: poll the store
            if record is None or record.finished_ok:
                return record is not None
            if left is not None and left <= 0:
                return False
            time.sleep(min(0.05, left) if left is not None else 0.05)

    def cancel(self, job_id: str) -> JobState | None:
        """A queued job is dropped; a running one is interrupted and keeps the images made so far."""
        if self.store.cancel_queued(job_id):
            self._forget(job_id)
        else:
            record = self.store.get(job_id)
            live = self._live.get(job_id)
            if record is not None and record.status == RUNNING and live is not None:
                self._cancelled.add(job_id)
                live.interrupt()
        return self.state(job_id)

    def result(self, job_id: str) -> tuple[JobRecord, list[bytes]] | None:
        """The stored record and PNG images of a job (None: unknown id)."""
        record = self.store.get(job_id)
        if record is None:
            return None
        return record, (self.store.images(job_id) if record.status in (DONE, CANCELLED) else [])

    def forget(self, job_id: str) -> None:
        """Delete a finished job and its images (results are kept until fetched)."""
        self.store.delete(job_id)

    # -- the slots' loops -------------------------------------------------------------------------------------
    def _loop(self, slot: WorkerSlot) -> None:
        while True:
            with self._cond:
                if self._stopping or not slot.alive:
                    return
                record = self._claim(slot)
                if record is None:
                    self._cond.wait(timeout=1.0)
                    continue
                slot.running = record.id
            try:
                self._run_one(record, slot)
            finally:
                with self._cond:
                    slot.running = None
                    self._cond.notify_all()

    def _claim(self, slot: WorkerSlot) -> JobRecord | None:
        """The job `slot` takes now, marked running for it (under the condition's lock)."""
        now = time.time()
        queued = [QueuedJob(job_id, model, now - created) for job_id, model, created in self.store.queued_models()]
        others = [other for other in self._slots.values() if other is not slot]
        chosen = pick_job(queued, slot, others)
        if chosen is None or not self.store.mark_running(chosen, slot.name):
            return None
        return self.store.get(chosen)

    def _run_one(self, record: JobRecord, slot: WorkerSlot) -> None:
        job_id = record.id
        job = self._live.get(job_id)
        try:
            request = self._requests.get(job_id) or decode_request(self._types[record.kind], record.request)
            if job is None:
                job = self._live[job_id] = Job(job_id, job_count=getattr(request, "n_iter", 1))
            outcome = slot.execute(record.kind, request, job)
            slot.model = record.model or slot.model
        except WorkerLost as e:  # not recorded: the job runs again, on this worker's successor or another
            log.warning("worker %s was lost running job %s (%s); the job goes back to the queue", slot.name, job_id, e)
            self.remove_slot(slot.name)
            self.store.requeue(job_id)
            return
        except EaselError as e:
            outcome = e
        except Exception as e:  # a bug: reported as such, the worker goes on with the next job
            log.exception("job %s (%s) failed", job_id, record.kind)
            outcome = EaselError(f"internal error in job {job_id}: {type(e).__name__}: {e}")
            outcome.status_code = 500
        self._requests.pop(job_id, None)
        self._record(job_id, outcome)

    def _record(self, job_id: str, outcome) -> None:
        with self._cond:
            waited = job_id in self._waited
        if waited:
            self.store.delete(job_id)
        elif isinstance(outcome, EaselError):
            self.store.fail(job_id, outcome.message, outcome.status_code)
        else:
            status = CANCELLED if job_id in self._cancelled else DONE
            pngs = [png_bytes(image, text) for image, text in zip(outcome.images, outcome.infotexts)]
            self.store.finish(job_id, status, result_payload(outcome), pngs)
        with self._cond:
            if waited:
                self._outcomes[job_id] = outcome
            event = self._done.get(job_id)
            self._forget(job_id, keep_event=waited)
        if event is not None:
            event.set()

    def _forget(self, job_id: str, keep_event: bool = False) -> None:
        self._live.pop(job_id, None)
        self._requests.pop(job_id, None)
        self._waited.discard(job_id)
        self._cancelled.discard(job_id)
        event = self._done.get(job_id) if keep_event else self._done.pop(job_id, None)
        if event is not None and not keep_event:
            event.set()
