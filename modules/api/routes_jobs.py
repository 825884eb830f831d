"""Asynchronous jobs beside A1111's routes: submit (an id), status, result, cancel, and a live event stream.

POST /easel/v1/jobs/{kind} takes the same body as /sdapi/v1/{kind} and answers 202 at once. Results stay in
`<data dir>/jobs.sqlite` until fetched (GET …/result deletes them unless `keep=true`), across restarts.
"""
from __future__ import annotations

import asyncio
import json
import time

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from modules.api.auth import api_user
from modules.api.images import encode_png
from modules.api.routes_generate import WAITING_CALLS, image_preview, job_for
from modules.api.schema import JobResult, JobStatus, JobSubmitted, WorkersStatus
from modules.errors import NotFound
from modules.jobs.codec import decode_request, encode_request
from modules.jobs.store import FINISHED

SSE_INTERVAL_S = 0.25
SSE_MAX_S = 6 * 3600


def _state_or_404(app, job_id: str):
    state = app.jobs.state(job_id)
    if state is None:
        raise NotFound(f"job {job_id!r} not found (finished results are deleted once fetched)")
    return state


def stored_parameters(app, record) -> dict:
    """The request of a stored job as the `parameters` echo (images left out)."""
    if record.kind not in app.jobs.kinds():
        return {}
    request = decode_request(app.jobs.request_type(record.kind), record.request)
    return {k: v for k, v in json.loads(encode_request(request)).items() if k not in ("init_images", "mask")}


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def build_router(app, submitters: dict) -> APIRouter:
    """`submitters`: kind → (pydantic model, payload → typed request); one submit route per kind."""
    router = APIRouter()
    waiters = anyio.CapacityLimiter(WAITING_CALLS)

    def add_submit(kind: str, model, convert):
        def submit(payload, http: Request):
            request = convert(payload).replace(user=api_user(app.flags, http.scope), is_api=True)
            job = app.jobs.submit(kind, request, job_for(app, payload, request))
            state = app.jobs.state(job.id)
            return JSONResponse({"id": job.id, "status": state.status if state else "queued",
                                 "position": state.position if state else None}, status_code=202)

        submit.__annotations__["payload"] = model  # a real class: annotations here are strings otherwise
        router.add_api_route(f"/jobs/{kind}", submit, methods=["POST"], status_code=202,
                             response_model=JobSubmitted, name=f"submit_{kind}",
                             summary=f"Queue a {kind} job; answers its id at once")

    for kind, (model, convert) in submitters.items():
        add_submit(kind, model, convert)

    @router.get("/jobs", response_model=list[JobStatus])
    def list_jobs(limit: int = 100):
        states = (app.jobs.state(r.id) for r in app.jobs.store.list(max(1, min(limit, 1000))))
        return [state.as_dict() for state in states if state is not None]  # None: fetched meanwhile

    @router.get("/workers", response_model=WorkersStatus, summary="The workers that run jobs and the queue depth")
    def list_workers():
        return app.jobs.workers_status()

    @router.get("/jobs/{job_id}", response_model=JobStatus)
    def job_status(job_id: str):
        return _state_or_404(app, job_id).as_dict()

    @router.delete("/jobs/{job_id}", response_model=JobStatus)
    def cancel_job(job_id: str):
        _state_or_404(app, job_id)
        state = app.jobs.cancel(job_id)
        return (state or _state_or_404(app, job_id)).as_dict()

    @router.get("/jobs/{job_id}/result", response_model=JobResult, responses={409: {"description": "not finished"}})
    async def job_result(job_id: str, keep: bool = False, wait: float = 0.0):
        """The A1111-shaped result; 409 while queued or running (or wait up to `wait` seconds for it)."""
        _state_or_404(app, job_id)
        if wait > 0:  # waiting threads come from their own pool: the default one keeps serving other routes
            await anyio.to_thread.run_sync(app.jobs.wait, job_id, min(wait, 600.0), limiter=waiters)
        return await run_in_threadpool(fetch_result, job_id, keep)

    def fetch_result(job_id: str, keep: bool) -> dict:
        found = app.jobs.result(job_id)
        if found is None:
            raise NotFound(f"job {job_id!r} not found")
        record, pngs = found
        if record.status not in FINISHED:
            raise HTTPException(409, f"job {job_id} is {record.status}; ask again when it is done")
        if record.status == "failed":
            if not keep:
                app.jobs.forget(job_id)
            raise HTTPException(record.error_status or 500, record.error)
        result = record.result or {}
        body = {"id": job_id, "status": record.status, "images": [encode_png(p) for p in pngs],
                "parameters": stored_parameters(app, record), "info": json.dumps(result.get("info", {}))}
        if not keep:
            app.jobs.forget(job_id)
        return body

    @router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def job_events(job_id: str):
        """Server-Sent Events: `progress` (status, step, eta, preview when it changes) until `done`."""
        _state_or_404(app, job_id)
        return StreamingResponse(_stream(app, job_id), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router


async def _stream(app, job_id: str):
    started, last, preview_step = time.monotonic(), None, -1
    while time.monotonic() - started < SSE_MAX_S:
        state = app.jobs.state(job_id)
        if state is None:
            yield _event("done", {"id": job_id, "status": "gone"})
            return
        body = state.as_dict()
        job = app.jobs.live_job(job_id)
        if job is not None and job.preview is not None and job.preview_step != preview_step:
            preview_step, body["current_image"] = job.preview_step, image_preview(job)
        if body != last:
            yield _event("progress", body)
            last = body
        if state.status in FINISHED:
            yield _event("done", {"id": job_id, "status": state.status})
            return
        await asyncio.sleep(SSE_INTERVAL_S)


class InternalProgressRequest(BaseModel):
    id_task: str | None = None
    id_live_preview: int = -1
    live_preview: bool = True


class InternalProgressResponse(BaseModel):
    active: bool
    queued: bool
    completed: bool
    progress: float | None = None
    eta: float | None = None
    live_preview: str | None = None
    id_live_preview: int = -1
    textinfo: str | None = None


def build_internal_router(app) -> APIRouter:
    """A1111's POST /internal/progress (its UI and some clients poll a `force_task_id` with it)."""
    router = APIRouter()

    @router.post("/progress", response_model=InternalProgressResponse)
    def internal_progress(req: InternalProgressRequest):
        state = app.jobs.state(req.id_task) if req.id_task else None
        if state is None or state.status != "running":
            queued = state is not None and state.status == "queued"
            position = state.position if state is not None and queued else None
            text = f"In queue: {position + 1}" if position is not None else "Waiting..."
            return {"active": False, "queued": queued, "completed": state is not None and state.status in FINISHED,
                    "id_live_preview": -1, "textinfo": text}
        body = state.as_dict()
        job = app.jobs.live_job(state.id)
        preview_id = job.preview_step if job is not None else -1
        preview = image_preview(job) if req.live_preview and preview_id > req.id_live_preview else None
        return {"active": True, "queued": False, "completed": False, "progress": body["progress"],
                "eta": body["eta_relative"], "textinfo": body["textinfo"],
                "live_preview": f"data:image/png;base64,{preview}" if preview else None,
                "id_live_preview": preview_id if preview else req.id_live_preview}

    return router

