"""Keeps one `EaselWorker` actor per `easel_worker` resource of the Ray cluster and a queue slot for each.

A node that joins with that resource (`webui.sh --worker --ray-address …`, or a simulated node in tests) gets a
worker within `SYNC_S`; a worker whose process died is replaced on its node; a node that left takes its slots
with it. Refused workers (another Easel version) are logged once with both versions and not retried.
"""
from __future__ import annotations

import itertools
import logging
import threading
from pathlib import Path
from typing import Any

from modules.app import VERSION
from modules.cluster.remote_slot import RemoteSlot, Snapshot, lost_errors
from modules.jobs.queue import JobQueue

log = logging.getLogger(__name__)

SYNC_S = 2.0  # how often the cluster's worker count is compared with the slots
START_TIMEOUT_S = 600.0  # a worker builds a whole App (imports, extensions): minutes on a slow machine
ACTOR_CONCURRENCY = 4  # the job's `run` plus progress / interrupt / skip calls beside it


class ClusterDispatcher:
    """Owner of the cluster's worker actors; the queue (modules/jobs/queue.py) owns the jobs."""

    def __init__(self, queue: JobQueue, worker_argv: list[str], snapshot: Snapshot, data_dir: Path,
                 threads: int | None = None, use_gpus: bool = False, version: str = VERSION):
        """`data_dir`: the server's, where the files workers save are written (modules/cluster/saved_files.py)."""
        self.queue, self.worker_argv, self.snapshot, self.data_dir = queue, list(worker_argv), snapshot, data_dir
        self.threads, self.use_gpus, self.version = threads, use_gpus, version
        self._names = (f"worker-{n}" for n in itertools.count(1))
        self._starting = 0
        self._refused = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="easel-cluster", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """At server exit: no more workers, and the local Ray processes (or this driver's connection) end."""
        import ray

        self.stop()
        if ray.is_initialized():
            ray.shutdown()

    def wanted(self) -> int:
        """How many workers the cluster has room for (its `easel_worker` resource, summed over live nodes)."""
        import ray

        return int(ray.cluster_resources().get("easel_worker", 0))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - the cluster may be briefly unreachable; try again next round
                log.exception("could not compare the cluster's workers with the queue's")
            self._stop.wait(SYNC_S)

    def sync(self) -> None:
        """Drop slots whose worker is gone; start workers until there is one per `easel_worker` resource."""
        for slot in self.queue.slots():
            if isinstance(slot, RemoteSlot) and slot.running is None and not slot.ping():
                log.warning("cluster worker %s is gone", slot.name)
                self.queue.remove_slot(slot.name)
        with self._lock:
            have = sum(isinstance(s, RemoteSlot) for s in self.queue.slots()) + self._starting
            missing = 0 if self._refused else self.wanted() - have
            self._starting += max(missing, 0)
        for _ in range(max(missing, 0)):
            threading.Thread(target=self._start_worker, args=(next(self._names),), daemon=True).start()

    def _start_worker(self, name: str) -> None:
        import ray

        from modules.cluster.worker import EaselWorker

        try:
            options = {"max_concurrency": ACTOR_CONCURRENCY, "resources": {"easel_worker": 1}, "num_cpus": 0}
            if self.use_gpus:
                options["num_gpus"] = 1
            actor_class: Any = ray.remote(EaselWorker)
            actor = actor_class.options(**options).remote(self.worker_argv, self.version, self.threads)
            info: dict = ray.get(actor.info.remote(), timeout=START_TIMEOUT_S)
        except lost_errors() as e:
            self._report_failed_start(name, str(e))
            with self._lock:
                self._starting -= 1
            return
        log.info("cluster worker %s ready: %s, %s threads, on %s", name, info["device"], info["threads"], info["host"])
        self.queue.add_slot(RemoteSlot(name, actor, info, self.snapshot, self.data_dir))
        with self._lock:
            self._starting -= 1

    def _report_failed_start(self, name: str, text: str) -> None:
        if "refused: this worker runs Easel" in text:
            with self._lock:
                self._refused = True  # the same code would be refused again: no retries
            log.error("cluster worker %s %s", name, text[text.index("refused"):].splitlines()[0])
        else:
            log.error("cluster worker %s did not start: %s", name, text.splitlines()[0] if text else "no reason")
