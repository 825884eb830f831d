"""A1111's generation routes: txt2img, img2img, progress, interrupt, skip, png-info, extras.

Generation goes through the one job queue: overlapping calls wait their turn and never mix."""
from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from modules.api import extras
from modules.api.auth import api_user
from modules.api.convert import api_parameters, to_request
from modules.api.images import decode_image, encode_png
from modules.api.schema import (GenerationResponse, Img2ImgApiRequest, PNGInfoRequest, PNGInfoResponse,
                                ProgressResponse, Txt2ImgApiRequest)
from modules.errors import InvalidInput
from modules.imaging.preview import preview_image
from modules.imaging.infotext import parse_infotext
from modules.imaging.metadata import read_image_metadata
from modules.jobs.codec import png_bytes
from modules.pipeline.img2img_request import Img2ImgRequest, validate_img2img
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest

WAITING_CALLS = 1000  # generation calls that may wait in the queue at once
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}|task\([A-Za-z0-9_-]{1,64}\)")  # A1111's own: task(txt2img-AB12CD3)


def installed_scripts(app, kind: str) -> dict:
    """Scripts a `kind` request may name in script_name / alwayson_scripts: title → always-on (bool)."""
    host = getattr(app, "scripts", None)
    if host is None:
        return {}
    return {**dict.fromkeys(host.titles(kind, alwayson=False), False),
            **dict.fromkeys(host.titles(kind, alwayson=True), True)}


def generation_response(result, parameters: dict, send_images: bool, extra_images: Sequence = ()) -> dict:
    """A1111's answer: bare base64 PNGs (with their infotext), the request echoed, `info` as a JSON string;
    `extra_images` (ControlNet's detected maps) come after the generated ones, as the extension appends them."""
    shown = zip(result.shown_images, result.shown_infotexts)
    images = [encode_png(png_bytes(i, t)) for i, t in shown] if send_images else []
    if send_images:
        images += [encode_png(png_bytes(i, None)) for i in extra_images]
    return {"images": images, "parameters": parameters, "info": result.info_json()}


def with_detected_maps(app, request, result, parameters: dict, send_images: bool) -> dict:
    from modules.api.controlnet import detected_maps

    maps = detected_maps(app, request, result) if send_images else []
    return generation_response(result, parameters, send_images, maps)


def job_for(app, payload, request) -> Job:
    """The Job of a call; A1111's `force_task_id` names it (then /easel/v1/jobs/{id} finds it, even after a crash)."""
    task_id = getattr(payload, "force_task_id", None)
    if task_id is None:
        return Job(job_count=getattr(request, "n_iter", 1))
    if not TASK_ID.fullmatch(task_id):
        raise InvalidInput("force_task_id", f"{task_id[:80]!r} is not a valid id",
                           "1-64 letters, digits, - or _, optionally inside task(…)")
    if app.jobs.state(task_id) is not None:
        raise InvalidInput("force_task_id", f"a job {task_id!r} already exists", "a new id")
    return Job(job_id=task_id, job_count=getattr(request, "n_iter", 1))


def png_of(image) -> str:
    """An image with its text chunks (infotext, postprocessing) as bare base64 PNG."""
    chunks = {k: v for k, v in (image.info or {}).items() if isinstance(v, str)}
    return encode_png(png_bytes(image, chunks.pop("parameters", None), chunks))


def keep_overrides(app, payload) -> None:
    """`override_settings_restore_afterwards: false` keeps the overrides as settings (A1111)."""
    if not payload.override_settings_restore_afterwards and payload.override_settings:
        app.options.update(dict(payload.override_settings))


def image_preview(job) -> str | None:
    """The running job's live preview as bare base64 PNG (latents approximated without the VAE), or None."""
    preview = preview_image(getattr(job, "preview", None), getattr(job, "previewer", None)) if job is not None else None
    if preview is None:
        return None
    buffer = io.BytesIO()
    preview.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def progress_body(app, skip_current_image: bool) -> dict:
    job = app.jobs.current
    queued = len(app.jobs.store.queued_ids())
    if job is None:
        state = {"skipped": False, "interrupted": False, "job": "", "job_count": 0, "job_timestamp": "0",
                 "job_no": 0, "sampling_step": 0, "sampling_steps": 0, "queue_size": queued}
        return {"progress": 0.0, "eta_relative": 0.0, "state": state, "current_image": None, "textinfo": None,
                "current_task": None}
    p = job.progress()
    state = {"skipped": p.skipped, "interrupted": p.interrupted, "job": f"job {job.id}", "job_count": p.job_count,
             "job_timestamp": str(int(job.started)), "job_no": p.job_no, "sampling_step": p.sampling_step,
             "sampling_steps": p.sampling_steps, "queue_size": queued}
    record = app.jobs.store.get(job.id)
    state["worker"] = record.worker if record is not None else None  # Easel's: where it runs (docs/cluster.md)
    return {"progress": p.fraction, "eta_relative": p.eta_seconds or 0.0, "state": state,
            "current_image": None if skip_current_image else image_preview(job), "textinfo": p.textinfo or None,
            "current_task": job.id}


def run_call(app, kind: str, payload, user: str | None = None) -> dict:
    """One /txt2img or /img2img call answered in the calling thread, the job waiting its turn in the queue:
    the routes run it in a worker thread, and A1111's `Api.text2imgapi` (for extensions) runs it directly."""
    request_type, validate = (Img2ImgRequest, validate_img2img) if kind == "img2img" else (GenerationRequest, None)
    request = to_request(payload, request_type, app=app, scripts=installed_scripts(app, kind), validate=validate)
    request = request.replace(user=user, is_api=True)
    result = app.jobs.run(kind, request, job_for(app, payload, request))
    keep_overrides(app, payload)
    parameters = api_parameters(payload, request)
    if kind == "img2img" and not payload.include_init_images:  # A1111 leaves the (large) images out of the echo
        parameters["init_images"], parameters["mask"] = None, None
    return with_detected_maps(app, request, result, parameters, payload.send_images)


def build_router(app) -> APIRouter:
    router = APIRouter()

    # Waiting for a queued job holds a thread; these come from their own pool so that /progress and the other
    # routes are always answered, however many generation calls are waiting.
    waiters = anyio.CapacityLimiter(WAITING_CALLS)

    async def generate(kind: str, payload, http: Request) -> dict:
        user = api_user(app.flags, http.scope)
        return await anyio.to_thread.run_sync(run_call, app, kind, payload, user, limiter=waiters)

    @router.post("/txt2img", response_model=GenerationResponse)
    async def txt2img(payload: Txt2ImgApiRequest, http: Request):
        return await generate("txt2img", payload, http)

    @router.post("/img2img", response_model=GenerationResponse)
    async def img2img(payload: Img2ImgApiRequest, http: Request):
        return await generate("img2img", payload, http)

    @router.get("/progress", response_model=ProgressResponse)
    def progress(skip_current_image: bool = False):
        return progress_body(app, skip_current_image)

    @router.post("/interrupt")
    def interrupt() -> dict:
        app.interrupt()
        return {}

    @router.post("/skip")
    def skip() -> dict:
        app.skip()
        return {}

    @router.post("/png-info", response_model=PNGInfoResponse)
    def png_info(payload: PNGInfoRequest):
        if not payload.image.strip():
            return {"info": "", "items": {}, "parameters": {}}
        image = decode_image("image", payload.image, app.options.data())
        infotext, items = read_image_metadata(image)
        parameters = parse_infotext(infotext) if infotext else {}
        return {"info": infotext or "", "items": json.loads(json.dumps(items, default=str)),
                "parameters": parameters}

    async def run_extras(payload, images: list) -> Any:
        for i, image in enumerate(images):
            extras.check_size(payload, image, "image" if len(images) == 1 else f"imageList[{i}]")
        request = extras.extras_request(payload, images)
        return await anyio.to_thread.run_sync(app.extras, request, limiter=waiters)

    @router.post("/extra-single-image", response_model=extras.ExtrasSingleImageResponse)
    async def extra_single_image(payload: extras.ExtrasSingleImageRequest):
        image = await run_in_threadpool(decode_image, "image", payload.image, app.options.data())
        result = await run_extras(payload, [image])
        return {"html_info": result.html_info, "image": await run_in_threadpool(png_of, result.images[0])}

    @router.post("/extra-batch-images", response_model=extras.ExtrasBatchImagesResponse)
    async def extra_batch_images(payload: extras.ExtrasBatchImagesRequest):
        opts = app.options.data()
        images = [await run_in_threadpool(decode_image, f"imageList[{i}].data", f.data, opts)
                  for i, f in enumerate(payload.imageList)]
        result = await run_extras(payload, images)
        return {"html_info": result.html_info, "images": [await run_in_threadpool(png_of, i) for i in result.images]}

    return router
