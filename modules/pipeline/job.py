"""A running job's progress, preview and interrupt flags: written by the worker, read and flagged by UI/API."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from modules.errors import Interrupted


@dataclass
class Progress:
    """A copy of a job's progress at one moment (what /progress and the UI show)."""

    job_no: int
    job_count: int
    sampling_step: int
    sampling_steps: int
    fraction: float
    eta_seconds: float | None
    textinfo: str
    interrupted: bool
    skipped: bool


class Job:
    """Progress of one request. `job_count` is the number of sampling passes (batches), each `sampling_steps` long."""

    def __init__(self, job_id: str | None = None, job_count: int = 1):
        self.id = job_id or uuid.uuid4().hex
        self._lock = threading.Lock()
        self.job_no = 0
        self.job_count = job_count
        self.sampling_step = 0
        self.sampling_steps = 0
        self.textinfo = ""
        self.preview = None
        self.preview_step = -1
        self.preview_every = 0  # steps between live previews; 0: none (set by the pipeline from the settings)
        self.previewer = None  # latents → PIL preview for this job's model (LatentPreviewer); None: Approx cheap
        self.interrupted = False
        self.skipped = False
        self.started = time.monotonic()
        self._pass_started: float | None = None  # when the current pass began (its steps are timed from here)
        self._step_seconds: float | None = None  # measured seconds per step of the latest pass with a step done
        self._remote_eta: float | None = None  # ETA a cluster worker measured (set by `mirror`)

    def interrupt(self) -> None:
        self.interrupted = True

    def skip(self) -> None:
        self.skipped = True

    def begin_pass(self, job_no: int, steps: int, textinfo: str = "") -> None:
        """Start sampling pass `job_no` (0-based) of `steps` steps; a skip only ends the pass it was raised in."""
        with self._lock:
            self.job_no, self.sampling_step, self.sampling_steps = job_no, 0, steps
            self.skipped = False
            self.textinfo = textinfo
            self._pass_started = time.monotonic()

    def on_step(self, step: int) -> None:
        """Record that `step` steps of the current pass are done; stop the sampler if asked to."""
        with self._lock:
            self.sampling_step = min(step, self.sampling_steps)
            if self._pass_started is not None and self.sampling_step > 0:
                self._step_seconds = (time.monotonic() - self._pass_started) / self.sampling_step
        if self.interrupted or self.skipped:
            raise Interrupted()

    def set_preview(self, image, step: int) -> None:
        self.preview, self.preview_step = image, step

    def offer_preview(self, latents, step: int) -> None:
        """Keep the first image's latents [1, C, h, w] every `preview_every` steps (the UI decodes them cheaply)."""
        if self.preview_every > 0 and step % self.preview_every == 0:
            self.set_preview(latents[:1].detach().float().cpu(), step)

    def mirror(self, progress: Progress, preview=None, preview_step: int = -1) -> None:
        """Take the progress of this job's copy on a cluster worker (modules/cluster): steps, text, ETA, preview.
        The interrupt and skip flags stay this side's: they travel the other way."""
        with self._lock:
            self.job_no, self.job_count = progress.job_no, progress.job_count
            self.sampling_step, self.sampling_steps = progress.sampling_step, progress.sampling_steps
            self.textinfo, self._remote_eta = progress.textinfo, progress.eta_seconds
        if preview is not None and preview_step != self.preview_step:
            self.set_preview(preview, preview_step)

    def fraction(self) -> float:
        if self.sampling_steps <= 0:
            return self.job_no / max(self.job_count, 1)
        return (self.job_no + self.sampling_step / self.sampling_steps) / max(self.job_count, 1)

    def progress(self) -> Progress:
        with self._lock:
            frac = min(self.fraction(), 1.0)
            eta = self._remote_eta if self._remote_eta is not None else remaining_seconds(
                self.job_no, self.job_count, self.sampling_step, self.sampling_steps, self._step_seconds)
            return Progress(self.job_no, self.job_count, self.sampling_step, self.sampling_steps, frac, eta,
                            self.textinfo, self.interrupted, self.skipped)


def remaining_seconds(job_no: int, job_count: int, step: int, steps: int, step_seconds: float | None) -> float | None:
    """ETA from measured step times, not from time since submission (which counts queueing and the model load):
    the steps left in this pass, plus each later pass taken as long as this one, at the latest measured rate.
    None until a step has been timed.

    >>> remaining_seconds(0, 1, 3, 40, 0.5), remaining_seconds(1, 4, 10, 20, 2.0), remaining_seconds(0, 1, 0, 40, None)
    (18.5, 100.0, None)
    """
    if step_seconds is None or steps <= 0:
        return None
    later_passes = max(job_count - job_no - 1, 0)
    return ((steps - step) + later_passes * steps) * step_seconds
