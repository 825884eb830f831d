"""A1111's `shared.state`: the running job's progress and flags, read from and written to the App's current Job."""
from __future__ import annotations

import logging
import time
from typing import Any

from modules.extensions.compat import binding

log = logging.getLogger("easel.extensions")

# A1111 name → the Job attribute it reads and writes
_JOB_FIELDS = {"job_no": "job_no", "job_count": "job_count", "sampling_step": "sampling_step",
               "sampling_steps": "sampling_steps", "interrupted": "interrupted", "skipped": "skipped",
               "textinfo": "textinfo", "id_live_preview": "preview_step"}
# methods an extension may replace on A1111's State (e.g. to block interruptions); the App's own Interrupt and Skip
# (the page's buttons, /sdapi/v1/interrupt and /skip) then go through the replacement, as A1111's did
_REPLACEABLE = ("interrupt", "skip", "stop_generating", "request_restart", "nextjob", "begin", "end",
                "set_current_image", "do_set_current_image", "assign_current_image", "dict")
_ROUTED = ("interrupt", "skip")


class StateView:
    """Reads the current job; outside a job it holds A1111's idle values."""

    def __init__(self):
        object.__setattr__(self, "_idle", {"job": "", "job_no": 0, "job_count": 0, "sampling_step": 0,
                                           "sampling_steps": 0, "interrupted": False, "skipped": False,
                                           "textinfo": None, "current_image": None, "current_latent": None,
                                           "time_start": None, "server_start": time.time(),
                                           "processing_has_refined_job_count": False, "stopping_generation": False,
                                           "job_timestamp": "0", "id_live_preview": 0, "current_image_sampling_step": 0,
                                           "server_command": None, "need_restart": False})

    @staticmethod
    def _job():
        return binding.app().current_job if binding.is_bound() else None

    def __getattr__(self, key: str) -> Any:
        job = self._job()
        if job is not None and key in _JOB_FIELDS:
            return getattr(job, _JOB_FIELDS[key])
        if key == "job":
            return job.id if job is not None else ""
        if key in self._idle:
            return self._idle[key]
        raise AttributeError(key)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _REPLACEABLE and callable(value):
            self._replace(key, value)
            return
        job = self._job()
        if job is not None and key in _JOB_FIELDS and key not in ("interrupted", "skipped"):
            setattr(job, _JOB_FIELDS[key], value)
        elif key == "interrupted" and value and job is not None:
            job.interrupt()
        elif key == "skipped" and value and job is not None:
            job.skip()
        else:
            self._idle[key] = value

    def _replace(self, key: str, method) -> None:
        """An extension's replacement of one of State's methods: read back as set; the bound App's Interrupt or
        Skip calls it (the App class's own method stays what the original here calls)."""
        object.__setattr__(self, key, method)
        if key in _ROUTED and binding.is_bound():
            setattr(binding.app(), key, lambda: getattr(self, key)())

    def forget_replacements(self) -> None:
        """At each start of the extension layer: extensions' scripts import (and replace) afresh."""
        for key in _REPLACEABLE:
            self.__dict__.pop(key, None)

    def interrupt(self) -> None:
        app = binding.app()
        type(app).interrupt(app)  # the App's own, not a route through a replacement (which would call back here)

    def skip(self) -> None:
        app = binding.app()
        type(app).skip(app)

    def stop_generating(self) -> None:
        self.interrupt()

    def request_restart(self) -> None:
        """A1111 stops the job and has its launcher start the server again. Easel has no such launcher: the job
        stops, and the log says that changes (e.g. extensions applied) load when Easel is started again."""
        self.interrupt()
        self._idle.update(server_command="restart", need_restart=True)
        log.warning("a restart was requested (shared.state.request_restart); Easel does not restart itself: "
                    "restart it to load the changes")

    def nextjob(self) -> None:
        job = self._job()
        if job is not None:
            job.begin_pass(job.job_no + 1, job.sampling_steps)

    def begin(self, job: str = "(unknown)") -> None:
        self._idle.update(time_start=time.time(), job=job)

    def end(self) -> None:
        self._idle.update(job="")

    def set_current_image(self) -> None:
        return None

    def do_set_current_image(self) -> None:
        return None

    def assign_current_image(self, image) -> None:
        self._idle["current_image"] = image

    def dict(self) -> dict:
        names = ("skipped", "interrupted", "job", "job_count", "job_no", "sampling_step", "sampling_steps")
        return {n: getattr(self, n) for n in names} | {"job_timestamp": self._idle["job_timestamp"]}
