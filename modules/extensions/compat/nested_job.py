"""Progress of scripts that run `process_images` several times in one job (X/Y/Z plot, Loopback, SD upscale):
each run's passes follow the previous ones in the job's bar, and the total is what the script set in
`shared.state.job_count` (A1111), grown when the runs need more."""
from __future__ import annotations


class NestedJob:
    """The queue's Job as one `process_images` call sees it: pass numbers shifted by the passes already run."""

    def __init__(self, parent, offset: int):
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_offset", offset)
        object.__setattr__(self, "passes", 0)

    def begin_pass(self, job_no: int, steps: int, textinfo: str = "") -> None:
        object.__setattr__(self, "passes", max(self.passes, job_no + 1))
        self._parent.begin_pass(self._offset + job_no, steps, textinfo)

    def __getattr__(self, name: str):
        return getattr(self._parent, name)

    def __setattr__(self, name: str, value) -> None:
        if name == "job_count":  # the run's own count, after the passes before it; never shrink the script's total
            self._parent.job_count = max(self._parent.job_count, self._offset + value)
        else:
            setattr(self._parent, name, value)


class PassCounter:
    """Passes run so far per job id, shared by every copy of `p` a script makes (copy(p) is common)."""

    def __init__(self):
        self._done: dict[str, int] = {}

    def wrap(self, job) -> NestedJob:
        return NestedJob(job, self._done.get(job.id, 0))

    def finished(self, nested: NestedJob) -> None:
        job_id = nested._parent.id
        self._done[job_id] = self._done.get(job_id, 0) + nested.passes

    def forget(self, job) -> None:
        self._done.pop(job.id, None)
