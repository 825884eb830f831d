"""Worker slots: the places jobs run (the local thread, or remote workers of a cluster), and which job each takes.

The queue (modules/jobs/queue.py) runs one loop per slot. A slot is told what to run by `pick_job`, a pure function:
FIFO, except that a job goes to a worker that already holds its checkpoint (model affinity, so that two workers
do not keep loading each other's models), docs/cluster.md.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modules.pipeline.job import Job

Execute = Callable[[str, Any, Job], Any]  # (kind, request, job) → GenerationResult (or raises EaselError)

# A job whose checkpoint another worker holds waits for that worker at most this long before any idle worker takes
# it (and loads the checkpoint too).
AFFINITY_WAIT_S = 60.0


class WorkerLost(Exception):
    """Raised by a slot's `execute` when its worker died mid-job: the job goes back to the queue, unrecorded."""


@dataclass
class WorkerSlot:
    """One place that runs jobs one at a time. `model` is the checkpoint it ran last (and so still holds)."""

    name: str
    execute: Execute
    device: str = "this process"
    model: str | None = None
    running: str | None = None  # id of the job it runs now
    alive: bool = True
    fits: Callable[[str | None], bool] = field(default=lambda model: True)  # can it load this checkpoint at all?

    def as_dict(self) -> dict:
        return {"name": self.name, "device": self.device, "model": self.model, "running": self.running,
                "alive": self.alive}


@dataclass(frozen=True)
class QueuedJob:
    """What the choice needs of a queued job: its id, checkpoint and how long it has waited."""

    id: str
    model: str | None
    waited_s: float


def pick_job(queued: Sequence[QueuedJob], slot: WorkerSlot, others: Sequence[WorkerSlot],
             affinity_wait_s: float = AFFINITY_WAIT_S) -> str | None:
    """The id of the job `slot` should run next, or None (nothing it should take now).

    1. the oldest job for the checkpoint this slot holds;
    2. else the oldest job whose checkpoint no other live worker holds;
    3. else the oldest job that waited longer than `affinity_wait_s` for the worker holding its checkpoint.
    Jobs the slot cannot load (`fits`) are never picked.

    >>> a = WorkerSlot("a", None, model="m1"); b = WorkerSlot("b", None, model="m2")
    >>> jobs = [QueuedJob("j1", "m2", 1.0), QueuedJob("j2", "m1", 0.5), QueuedJob("j3", "m3", 0.1)]
    >>> pick_job(jobs, a, [b]), pick_job(jobs, b, [a])
    ('j2', 'j1')
    >>> pick_job([QueuedJob("j1", "m2", 1.0), QueuedJob("j3", "m3", 0.1)], a, [b])
    'j3'
    >>> pick_job([QueuedJob("j1", "m2", 1.0)], a, [b]) is None, pick_job([QueuedJob("j1", "m2", 99.0)], a, [b])
    (True, 'j1')
    """
    candidates = [job for job in queued if slot.fits(job.model)]
    if slot.model is not None:
        for job in candidates:
            if job.model == slot.model:
                return job.id
    held = {other.model for other in others if other.alive and other.model is not None and other is not slot}
    for job in candidates:
        if job.model not in held:
            return job.id
    for job in candidates:
        if job.waited_s > affinity_wait_s:
            return job.id
    return None
