"""The API server's side of one cluster worker: a queue slot whose `execute` runs the job on the worker's actor.

While the job runs, its progress and preview are copied into the server's `Job` (what /progress, the UI and the
event stream read), and the server's interrupt and skip are sent to the worker. A worker that dies mid-job raises
`WorkerLost`: the queue puts the job back, unrecorded, so it runs again elsewhere exactly once to completion.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modules.cluster.saved_files import WorkerOutcome, place
from modules.errors import EaselError
from modules.jobs.slots import WorkerLost, WorkerSlot
from modules.pipeline.job import Job

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often a running job's progress is fetched from its worker
CALL_TIMEOUT_S = 10.0  # a worker that does not answer a progress call in this time is taken as lost

Snapshot = Callable[[Any], Any]  # request → the options snapshot the job runs on (taken on the server)


def lost_errors() -> tuple[type[BaseException], ...]:
    """Ray's exceptions that mean "the worker (process or node) is gone", not "the job failed"."""
    from ray import exceptions as rx

    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError",
             "ObjectLostError", "OwnerDiedError", "GetTimeoutError")
    return tuple(getattr(rx, name) for name in names if hasattr(rx, name))


def outcome_of(value, data_dir: Path):
    """The worker's answer as the queue wants it: a result object whose saved files are now under the server's
    `data_dir`, or an EaselError raised here."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "error":
        error = EaselError(value[1])
        error.status_code = value[2]
        raise error
    return place(value, data_dir) if isinstance(value, WorkerOutcome) else value


class RemoteSlot(WorkerSlot):
    """A queue slot backed by an `EaselWorker` actor (modules/cluster/worker.py)."""

    def __init__(self, name: str, actor, info: dict, snapshot: Snapshot, data_dir: Path):
        super().__init__(name, self._run, device=f"{info.get('device', '?')} on {info.get('host', '?')}",
                         model=info.get("model"))
        self.actor, self.info, self._snapshot, self.data_dir = actor, info, snapshot, data_dir
        self._checkpoints = set(info.get("checkpoints") or ())
        self.fits = self._has_checkpoint

    def _has_checkpoint(self, model: str | None) -> bool:
        return model is None or not self._checkpoints or model in self._checkpoints or any(
            model in title for title in self._checkpoints)

    def _run(self, kind: str, request, job: Job):
        import ray

        snapshot = self._snapshot(request)  # bad override_settings fail here, as in the local slot
        errors = lost_errors()
        try:
            ref = self.actor.run.remote(job.id, kind, request, snapshot)
            forwarded_interrupt = False
            while not ray.wait([ref], timeout=POLL_S)[0]:
                forwarded_interrupt = self._sync(job, forwarded_interrupt)
            return outcome_of(ray.get(ref), self.data_dir)
        except errors as e:
            raise WorkerLost(f"{type(e).__name__}: {e}") from e

    def _sync(self, job: Job, forwarded_interrupt: bool) -> bool:
        """Copy the worker's progress into `job`; send this side's interrupt (once) and skips."""
        import ray

        if job.interrupted and not forwarded_interrupt:
            self.actor.interrupt.remote(job.id)
            forwarded_interrupt = True
        if job.skipped:
            job.skipped = False
            self.actor.skip.remote(job.id)
        state = ray.get(self.actor.progress.remote(job.id, job.preview_step), timeout=CALL_TIMEOUT_S)
        if state is not None:
            progress, preview, step = state
            job.mirror(progress, preview, step)
        return forwarded_interrupt

    def ping(self) -> bool:
        """False when the worker is gone (checked between jobs)."""
        import ray

        try:
            self.info = ray.get(self.actor.info.remote(), timeout=CALL_TIMEOUT_S)
            self.model = self.info.get("model") or self.model
            return True
        except lost_errors():
            return False

    def as_dict(self) -> dict:
        return {**super().as_dict(), "threads": self.info.get("threads"), "loads": self.info.get("loads"),
                "version": self.info.get("version"), "pid": self.info.get("pid")}
