"""The Easel worker that runs inside a Ray actor: a whole App (models, samplers, extensions) without a server.

The API server's dispatcher (modules/cluster/dispatcher.py) creates one per `easel_worker` resource of the
cluster and sends it jobs with the server's options snapshot; progress, previews, interrupt and skip travel
through the small methods below while `run` works (the actor runs calls on several threads).
"""
from __future__ import annotations

import os
import socket
import threading

from modules.app import VERSION
from modules.cluster.saved_files import WorkerOutcome, collect
from modules.errors import EaselError
from modules.pipeline.job import Job


class VersionMismatch(EaselError):
    """A worker of another Easel version than the API server (requests and results might not mean the same)."""


def error_outcome(error: EaselError) -> tuple[str, str, int]:
    """An EaselError as plain values, for the trip back to the server (its class need not unpickle there)."""
    return ("error", error.message, int(getattr(error, "status_code", 500)))


class EaselWorker:
    """One worker: `run` executes a job; `progress`, `interrupt`, `skip` reach that job while it runs."""

    def __init__(self, argv: list[str], server_version: str, threads: int | None = None):
        if server_version != VERSION:
            raise VersionMismatch(f"refused: this worker runs Easel {VERSION}, the API server runs Easel "
                                  f"{server_version}; install the same version on both")
        import torch

        import webui

        self.threads = threads or max(1, (os.cpu_count() or 1) // max(1, _workers_on_this_node()))
        torch.set_num_threads(self.threads)
        webui.set_offline_environment()  # the head sets it in its main(); a worker may have been started by hand
        self.app = webui.build_app(webui.parse_flags(argv), worker=True)
        self.app.warm_up()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def info(self) -> dict:
        """Who this worker is, for the server's list of workers."""
        models = self.app.models
        current = models.current
        return {"version": VERSION, "host": socket.gethostname(), "pid": os.getpid(), "threads": self.threads,
                "device": str(models.device_config.device), "loads": self.loads,
                "model": current.checkpoint.title if current is not None else None,
                "checkpoints": [info.title for info in models.list_checkpoints()]}

    def run(self, job_id: str, kind: str, request, snapshot):
        """Run one job: the result with the files it saved (for the server's data dir), or an error as
        `error_outcome` values."""
        job = Job(job_id, job_count=getattr(request, "n_iter", 1))
        with self._lock:
            self._jobs[job_id] = job
        before = self.app.models.current
        try:
            result = self.app.execute_with(kind, request, snapshot, job)
            return WorkerOutcome(result, collect(result, self.app.paths.data_dir))
        except EaselError as e:
            return error_outcome(e)
        finally:
            if self.app.models.current is not before and self.app.models.current is not None:
                self.loads += 1
            with self._lock:
                self._jobs.pop(job_id, None)

    def progress(self, job_id: str, seen_preview_step: int = -1):
        """(Progress, preview image or None, preview step) of a running job; None once it is not running. The
        preview is decoded only when it is newer than the one the server has."""
        from modules.imaging.preview import preview_image

        job = self._jobs.get(job_id)
        if job is None:
            return None
        step, preview = job.preview_step, None
        if job.preview is not None and step != seen_preview_step:
            preview = preview_image(job.preview, job.previewer)
        return job.progress(), preview, step

    def interrupt(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.interrupt()

    def skip(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.skip()


def _workers_on_this_node() -> int:
    """How many Easel workers this node runs (its `easel_worker` resource), to split the CPU cores between them."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node.get("NodeID") == node_id:
            return int(node.get("Resources", {}).get("easel_worker", 1))
    return 1
