"""Progress while a job runs: the bar with percent and ETA, the queue position, the live preview.

A generation runs in a worker thread; the tab's event is a generator that polls the Job and yields the bar (and a
preview when the job has one) until the work is done. `WaitLine` is the UI's view of the jobs it started, to
show "In queue: i/n" while another job holds the worker.
"""
from __future__ import annotations

import html
import threading
from collections.abc import Callable, Generator
from typing import Any

from PIL import Image

from modules.imaging.preview import latent_preview, preview_image  # noqa: F401 - re-exported for the tabs


class WaitLine:
    """The jobs this UI has started and not yet finished, in arrival order (one owner: the page)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: list = []

    def enter(self, job) -> None:
        with self._lock:
            self._jobs.append(job)

    def leave(self, job) -> None:
        with self._lock:
            if job in self._jobs:
                self._jobs.remove(job)

    def position(self, job) -> tuple[int, int]:
        """(1-based place, total); the running job is first."""
        with self._lock:
            place = self._jobs.index(job) + 1 if job in self._jobs else 0
            return place, len(self._jobs)


def format_eta(seconds: float | None) -> str:
    """
    >>> format_eta(75.2), format_eta(3725), format_eta(None)
    ('01:15', '1:02:05', '')
    """
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def progress_html(fraction: float, eta: float | None, text: str = "", waiting: tuple[int, int] | None = None,
                  step: tuple[int, int] = (0, 0)) -> str:
    """The bar A1111 users know (`.progressDiv > .progress`), with percent, ETA and queue position.

    >>> "In queue: 2/3" in progress_html(0.0, None, waiting=(2, 3))
    True
    >>> 'style="width:42%"' in progress_html(0.42, 10.0)
    True
    """
    if waiting is not None:
        label = f"Waiting… In queue: {waiting[0]}/{waiting[1]}"
        percent = 0
    else:
        percent = int(max(0.0, min(fraction, 1.0)) * 100)
        label = f"{percent}%" + (f" ETA: {format_eta(eta)}" if eta is not None and percent > 0 else "")
    extra = f"<span class='progress-text'>{html.escape(text)}</span>" if text else ""
    return (f"<div class='progressDiv' data-percent='{percent}' data-step='{step[0]}' data-steps='{step[1]}'>"
            f"<div class='progress' style=\"width:{percent}%\">"
            f"<span class='progress-label'>{html.escape(label)}</span></div></div>{extra}")


def run_with_progress(work: Callable[[], Any], job, line: WaitLine, is_running: Callable[[], bool],
                      position: Callable[[], tuple[int, int] | None] | None = None,
                      poll: float = 0.4) -> Generator[tuple[str, Image.Image | None], None, Any]:
    """Run `work()` in a thread; yield (bar html, preview or None) until it ends; return its result.

    `position()` gives the job's (place, total) in the App's queue when the App has one; else the UI's own line.

    Use with `result = yield from run_with_progress(...)`. An exception in `work` is raised here.
    """
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the caller, which turns user errors into messages
            outcome["error"] = exc
        finally:
            line.leave(job)

    line.enter(job)
    thread = threading.Thread(target=target, name=f"easel-ui-job-{job.id[:8]}", daemon=True)
    thread.start()
    shown_step = None
    while True:
        thread.join(poll)
        if not thread.is_alive():
            break
        if is_running():
            progress = job.progress()
            preview = None
            if getattr(job, "preview_step", -1) != shown_step and getattr(job, "preview", None) is not None:
                shown_step, preview = job.preview_step, preview_image(job.preview, getattr(job, "previewer", None))
            yield progress_html(progress.fraction, progress.eta_seconds, progress.textinfo,
                                step=(progress.sampling_step, progress.sampling_steps)), preview
        else:
            place = position() if position is not None else None
            yield progress_html(0.0, None, waiting=place or line.position(job)), None
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")
