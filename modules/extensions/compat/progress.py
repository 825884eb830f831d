"""A1111's `modules.progress`: its record of the tasks the page's buttons started, by task id.

A1111 kept it as module globals: `add_task_to_queue` when a button's call was queued, `start_task` when it began
(`current_task`), `finish_task` when it ended. Queue extensions run their own tasks through the same calls and read
`current_task` to wait while another one runs (sd-webui-agent-scheduler only starts its next task while it is
None). Easel's own generations are jobs of its queue (`/sdapi/v1/progress`, `/easel/v1/jobs`), which this record
does not list; what an extension records here is what it reads back. A1111's `/internal/progress` route is
not served: Easel's page polls its own.
"""
from __future__ import annotations

import random
import string
import threading
import time
from collections import OrderedDict

FINISHED_KEPT = 16  # A1111 forgets older finished ids
RESULTS_KEPT = 2

current_task: str | None = None
pending_tasks: OrderedDict[str, float] = OrderedDict()  # task id → time it was queued
finished_tasks: list[str] = []
recorded_results: list[tuple[str, object]] = []
recorded_results_limit = RESULTS_KEPT
_lock = threading.Lock()  # button calls and extension threads record at once


def add_task_to_queue(id_job: str) -> None:
    with _lock:
        pending_tasks[id_job] = time.time()


def start_task(id_task: str) -> None:
    global current_task
    with _lock:
        current_task = id_task
        pending_tasks.pop(id_task, None)


def finish_task(id_task: str) -> None:
    global current_task
    with _lock:
        if current_task == id_task:
            current_task = None
        finished_tasks.append(id_task)
        del finished_tasks[:-FINISHED_KEPT]


def create_task_id(task_type: str) -> str:
    """A1111's id for a button's call: `task(<type>-<7 letters or digits>)`."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=7))
    return f"task({task_type}-{suffix})"


def record_results(id_task: str, res: object) -> None:
    with _lock:
        recorded_results.append((id_task, res))
        del recorded_results[:-recorded_results_limit]

