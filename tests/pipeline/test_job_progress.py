"""A job's progress and ETA (modules/pipeline/job.py): the fraction follows the real step and pass, and the ETA
comes from measured step times, so a slow model load or a wait in the queue does not inflate it."""
from __future__ import annotations

import pytest

from modules.errors import Interrupted
from modules.pipeline import job as job_module
from modules.pipeline.job import Job


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(job_module.time, "monotonic", fake)
    return fake


def test_eta_ignores_the_cold_start_and_matches_the_remaining_steps(clock):
    job = Job()
    clock.now += 200.0  # the model loads for 200 s before the first step
    job.begin_pass(0, 40)
    assert job.progress().eta_seconds is None  # nothing timed yet: no guess
    for step in range(1, 4):
        clock.now += 0.5
        job.on_step(step)
    progress = job.progress()
    assert progress.fraction == pytest.approx(3 / 40)
    assert progress.eta_seconds == pytest.approx(37 * 0.5)  # the 37 steps left at 0.5 s, not 200 s of load


def test_later_passes_count_in_the_eta_and_the_fraction(clock):
    job = Job(job_count=3)
    job.begin_pass(1, 10)
    for step in range(1, 6):
        clock.now += 2.0
        job.on_step(step)
    progress = job.progress()
    assert progress.fraction == pytest.approx((1 + 5 / 10) / 3)
    assert progress.eta_seconds == pytest.approx((5 + 10) * 2.0)
    job.begin_pass(2, 10)  # the next pass starts from the last measured rate until its own first step
    assert job.progress().eta_seconds == pytest.approx(10 * 2.0)


def test_interrupt_keeps_the_step_reached(clock):
    job = Job()
    job.begin_pass(0, 150)
    for step in range(1, 91):
        job.on_step(step)
    job.interrupt()
    with pytest.raises(Interrupted):
        job.on_step(91)  # the 91st step finished; the sampler stops here
    assert job.progress().fraction == pytest.approx(91 / 150) and job.progress().sampling_step == 91
