"""GET /sdapi/v1/progress answers 200 while the background warm-up is still importing torch and a job is current
(the half-imported module has no `Tensor` yet: reading it was a 500)."""
from __future__ import annotations

import sys
import types

from modules.pipeline.job import Job


def test_progress_during_the_torch_import(client, monkeypatch):
    job = Job(job_count=1)
    monkeypatch.setattr(type(client.app_under_test.jobs), "current", property(lambda queue: job))
    half_built = types.ModuleType("torch")  # what sys.modules holds while `import torch` runs in another thread
    monkeypatch.setitem(sys.modules, "torch", half_built)
    r = client.get("/sdapi/v1/progress")
    assert r.status_code == 200, r.text
    assert r.json()["state"]["job"] == f"job {job.id}" and r.json()["current_image"] is None
    r = client.post("/internal/progress", json={"id_task": job.id})
    assert r.status_code == 200, r.text
