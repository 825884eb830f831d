"""JobStore: FIFO order, crash recovery (running → queued), results kept until deleted."""
from __future__ import annotations

import json

from modules.jobs.store import CANCELLED, DONE, QUEUED, RUNNING, JobStore


def test_fifo_and_claim(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    for name in "abc":
        store.add(name, "txt2img", "{}")
    assert store.queued_ids() == ["a", "b", "c"]
    assert store.queued_models()[0][0] == "a"
    assert store.mark_running("a") and not store.mark_running("a")
    assert store.queued_models()[0][0] == "b"
    assert store.cancel_queued("b") and store.get("b").status == CANCELLED
    assert not store.cancel_queued("a")  # running: only the queue can interrupt it
    assert store.queued_models()[0][0] == "c"


def test_running_jobs_requeue_ahead_after_a_crash(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(path)
    for name in "abc":
        store.add(name, "txt2img", json.dumps({"prompt": name}))
    store.mark_running("a")
    del store  # no close: as after kill -9
    again = JobStore(path)
    assert again.get("a").status == QUEUED and again.get("a").started is None
    assert again.queued_ids() == ["a", "b", "c"]
    assert again.get("b").request == '{"prompt": "b"}'


def test_results_and_errors_are_kept_until_deleted(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(path)
    store.add("a", "txt2img", "{}")
    store.add("b", "txt2img", "{}")
    store.mark_running("a")
    store.finish("a", DONE, {"info": {"seed": 1}}, [b"png1", b"png2"])
    store.mark_running("b")
    store.fail("b", "width: bad", 422)
    store.close()
    again = JobStore(path)
    assert again.get("a").status == DONE and again.get("a").result == {"info": {"seed": 1}}
    assert again.images("a") == [b"png1", b"png2"]
    assert (again.get("b").error, again.get("b").error_status) == ("width: bad", 422)
    again.delete("a")
    assert again.get("a") is None and again.images("a") == []
    assert RUNNING not in {r.status for r in again.list()}


def test_prune_drops_only_old_finished_jobs(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    for name in "abc":
        store.add(name, "txt2img", "{}")
    store.mark_running("a")
    store.finish("a", DONE, {}, [b"png"])
    store.mark_running("b")
    assert store.prune(older_than_s=3600) == 0
    assert store.prune(older_than_s=-1) == 1  # "a" finished before now + 1 s
    assert store.get("a") is None and store.images("a") == []
    assert store.get("b").status == RUNNING and store.get("c").status == QUEUED
