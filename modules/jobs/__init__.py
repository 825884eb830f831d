"""The job queue shared by the UI and the API: FIFO, one worker per device, persisted in `<data dir>/jobs.sqlite`.

`store` keeps jobs, requests and results on disk (a crash or kill -9 loses nothing that was accepted); `codec`
turns typed requests into JSON and back; `queue` runs them one at a time and tracks live progress.
"""
from modules.jobs.queue import JobQueue, JobState
from modules.jobs.store import JobRecord, JobStore

__all__ = ["JobQueue", "JobState", "JobRecord", "JobStore"]
