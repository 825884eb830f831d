"""A1111's `POST /sdapi/v1/interrogate`: `{image, model}` → `{caption}`.

The work is `App.interrogate` (modules/interrogate), a job of the same FIFO queue as generations. Where A1111
answers an unknown model with 404 "Model not found", this answers 422 naming the field and the valid models; a
missing model file is a 422 naming the folder and the file to put there (docs/interrogate.md).
"""
from __future__ import annotations

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from modules.api.images import decode_image
from modules.interrogate import MODELS, InterrogateRequest, validate_model

WAITING_CALLS = 100  # interrogation calls that may wait in the queue at once


class InterrogateBody(BaseModel):
    image: str = Field("", description="base64 image (a data: prefix is allowed)")
    model: str = Field("clip", description=f"the interrogation model: {' or '.join(MODELS)}")


class InterrogateResponse(BaseModel):
    caption: str = Field(description="the caption (CLIP) or the comma-separated tags (DeepBooru)")


def build_router(app) -> APIRouter:
    router = APIRouter()
    waiters = anyio.CapacityLimiter(WAITING_CALLS)  # waiting holds a thread: their own pool, as for generations

    @router.post("/interrogate", response_model=InterrogateResponse)
    async def interrogate(payload: InterrogateBody):
        validate_model(payload.model)  # before decoding: the cheap mistake first
        image = await run_in_threadpool(decode_image, "image", payload.image, app.options.data())
        request = InterrogateRequest(image=image.convert("RGB"), model=payload.model)
        result = await anyio.to_thread.run_sync(app.interrogate, request, limiter=waiters)
        return {"caption": result.caption}

    return router
