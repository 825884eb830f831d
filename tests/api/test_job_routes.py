"""Async job routes in process: submit → status → result (deleted once fetched), cancel, the SSE stream."""
from __future__ import annotations

import json
import time

from tests.api.conftest import TINY


def wait_status(client, job_id, wanted, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/easel/v1/jobs/{job_id}").json()["status"]
        if status in wanted:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {wanted}")


def test_submit_status_result_then_gone(client):
    r = client.post("/easel/v1/jobs/txt2img", json={**TINY, "seed": 5, "n_iter": 2})
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running")
    job_id = r.json()["id"]
    assert wait_status(client, job_id, {"done"}) == "done"
    listed = client.get("/easel/v1/jobs").json()
    assert any(j["id"] == job_id and j["progress"] == 1.0 for j in listed)
    first = client.get(f"/easel/v1/jobs/{job_id}/result", params={"keep": True}).json()
    assert first["status"] == "done" and len(first["images"]) == 2
    assert json.loads(first["info"])["all_seeds"] == [5, 6] and first["parameters"]["seed"] == 5
    assert client.get(f"/easel/v1/jobs/{job_id}/result").status_code == 200
    assert client.get(f"/easel/v1/jobs/{job_id}/result").status_code == 404


def test_result_before_the_end_is_409_and_cancel_stops_it(client):
    slow = client.post("/easel/v1/jobs/txt2img", json={**TINY, "steps": 400, "n_iter": 3}).json()["id"]
    queued = client.post("/easel/v1/jobs/txt2img", json=TINY).json()["id"]
    wait_status(client, slow, {"running"})
    r = client.get(f"/easel/v1/jobs/{slow}/result")
    assert r.status_code == 409 and "running" in r.json()["detail"]
    state = client.get(f"/easel/v1/jobs/{queued}").json()
    assert state["status"] == "queued" and state["position"] == 0
    assert client.delete(f"/easel/v1/jobs/{queued}").json()["status"] == "cancelled"
    client.delete(f"/easel/v1/jobs/{slow}")
    assert wait_status(client, slow, {"cancelled"}) == "cancelled"
    result = client.get(f"/easel/v1/jobs/{slow}/result").json()
    assert result["status"] == "cancelled" and len(result["images"]) <= 1


def test_failed_jobs_report_their_user_error(client):
    # a clip skip the tiny model cannot honour passes the checks at submit time and fails in the job
    r = client.post("/easel/v1/jobs/txt2img", json={**TINY, "override_settings": {"CLIP_stop_at_last_layers": 12}})
    job_id = r.json()["id"]
    assert wait_status(client, job_id, {"failed", "done"}) == "failed"
    state = client.get(f"/easel/v1/jobs/{job_id}").json()
    assert 400 <= state["error_status"] < 500 and state["error"]
    result = client.get(f"/easel/v1/jobs/{job_id}/result")
    assert result.status_code == state["error_status"] and set(result.json()) >= {"error", "detail"}


def test_submit_validates_like_the_sync_route(client):
    r = client.post("/easel/v1/jobs/txt2img", json={**TINY, "width": 7})
    assert r.status_code == 422 and "width" in r.json()["errors"]
    assert client.get("/easel/v1/jobs").json() == []


def test_event_stream_reports_progress_until_done(client):
    job_id = client.post("/easel/v1/jobs/txt2img", json={**TINY, "steps": 6}).json()["id"]
    events = []
    with client.stream("GET", f"/easel/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if name == "done":
                    break
    assert events[-1] == ("done", {"id": job_id, "status": "done"})
    statuses = [data["status"] for name, data in events if name == "progress"]
    assert statuses[-1] == "done" and set(statuses) <= {"queued", "running", "done"}


def test_force_task_id_names_the_job(client):
    r = client.post("/sdapi/v1/txt2img", json={**TINY, "force_task_id": "my-task_1"})
    assert r.status_code == 200
    r = client.post("/easel/v1/jobs/txt2img", json={**TINY, "force_task_id": "kept-1"})
    assert r.json()["id"] == "kept-1"
    assert wait_status(client, "kept-1", {"done"}) == "done"
    again = client.post("/sdapi/v1/txt2img", json={**TINY, "force_task_id": "kept-1"})
    assert again.status_code == 422 and "already exists" in again.json()["errors"]
    bad = client.post("/sdapi/v1/txt2img", json={**TINY, "force_task_id": "../../x"})
    assert bad.status_code == 422 and "force_task_id" in bad.json()["errors"]


def test_internal_progress_follows_a_forced_task_id(client):
    assert client.post("/internal/progress", json={"id_task": "nope"}).json()["textinfo"] == "Waiting..."
    slow = client.post("/easel/v1/jobs/txt2img", json={**TINY, "steps": 300, "force_task_id": "slow"}).json()["id"]
    client.post("/easel/v1/jobs/txt2img", json={**TINY, "force_task_id": "next"})
    wait_status(client, slow, {"running"})
    waiting = client.post("/internal/progress", json={"id_task": "next"}).json()
    assert waiting["queued"] and waiting["textinfo"] == "In queue: 1"
    deadline = time.time() + 30
    while (running := client.post("/internal/progress", json={"id_task": "slow"}).json())["progress"] == 0:
        assert time.time() < deadline
        time.sleep(0.05)
    assert running["active"] and 0 < running["progress"] < 1
    client.delete("/easel/v1/jobs/slow")
    client.delete("/easel/v1/jobs/next")
    assert wait_status(client, "slow", {"cancelled"})
    assert client.post("/internal/progress", json={"id_task": "slow"}).json()["completed"]


def test_progress_answers_while_more_calls_wait_than_the_default_thread_pool_holds(tmp_path, tiny_checkpoint):
    """45 waiting txt2img calls (Starlette's default pool has 40 threads) must not starve /progress."""
    import asyncio

    import httpx

    import webui
    from tests.pipeline.conftest import make_app

    app = make_app(tmp_path, tiny_checkpoint, "--nowebui")
    server = webui.create_server(app)

    async def scenario():
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://easel", timeout=300) as http:
            blocker = (await http.post("/easel/v1/jobs/txt2img", json={**TINY, "steps": 1000})).json()["id"]
            calls = [asyncio.create_task(http.post("/sdapi/v1/txt2img", json={**TINY, "steps": 1, "seed": n}))
                     for n in range(45)]
            deadline = time.monotonic() + 60
            while len(app.jobs.store.queued_ids()) < 45:  # all 45 wait behind the blocker
                assert time.monotonic() < deadline, "the waiting calls never all reached the queue"
                await asyncio.sleep(0.05)
            started = time.monotonic()
            progress = await asyncio.wait_for(http.get("/sdapi/v1/progress"), timeout=10)
            answered_in = time.monotonic() - started
            await http.delete(f"/easel/v1/jobs/{blocker}")
            done = await asyncio.gather(*calls)
            return progress, answered_in, done

    try:
        progress, answered_in, done = asyncio.run(scenario())
    finally:
        app.jobs.close()
    assert progress.status_code == 200 and progress.json()["state"]["queue_size"] == 45 and answered_in < 5
    assert sorted(json.loads(r.json()["info"])["seed"] for r in done) == list(range(45))
