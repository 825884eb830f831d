"""The App: the one long-lived object. It owns settings, models, registries and the job runner; built in webui.py."""
from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass

from modules.options import Options
from modules.paths import Paths
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from modules.pipeline.result import GenerationResult
from modules.pipeline.services import PipelineServices
from modules.pipeline.txt2img import run_txt2img

VERSION = "0.1.0"


@dataclass
class App:
    """Everything a request needs, passed down explicitly; nothing here is global."""

    paths: Paths
    flags: argparse.Namespace
    options: Options
    services: PipelineServices

    def __post_init__(self):
        self._run_lock = threading.Lock()
        self._current_job: Job | None = None

    @property
    def models(self):
        return self.services.models

    @property
    def current_job(self) -> Job | None:
        return self._current_job

    def txt2img(self, request: GenerationRequest, job: Job | None = None) -> GenerationResult:
        """Run one txt2img request; overlapping calls wait their turn (one worker per device)."""
        job = job or Job(job_count=request.n_iter)
        with self._run_lock:
            self._current_job = job
            try:
                snapshot = self.options.snapshot(request.override_settings)
                return run_txt2img(self.services, request, snapshot, job)
            finally:
                self._current_job = None

    def interrupt(self) -> None:
        job = self._current_job
        if job is not None:
            job.interrupt()

    def skip(self) -> None:
        job = self._current_job
        if job is not None:
            job.skip()
