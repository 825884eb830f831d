"""The Extras routes' schemas: A1111's `extra-single-image` / `extra-batch-images` bodies and answers.

The work itself is `App.extras` (modules/pipeline/extras.py, with the upscaler registry): serialised with the
generation jobs, so a model upscaler never shares the device with a running generation.
"""
from __future__ import annotations

import dataclasses

from PIL import Image
from pydantic import BaseModel, Field

from modules.errors import InvalidInput
from modules.pipeline.extras import ExtrasRequest

MAX_RESULT_SIDE = 16384

class ExtrasOptions(BaseModel):
    resize_mode: int = Field(0, ge=0, le=1, description="0: scale by upscaling_resize, 1: to w×h")
    show_extras_results: bool = True
    gfpgan_visibility: float = Field(0, ge=0, le=1)
    codeformer_visibility: float = Field(0, ge=0, le=1)
    codeformer_weight: float = Field(0, ge=0, le=1)
    upscaling_resize: float = Field(2, gt=0, le=16)
    upscaling_resize_w: int = Field(512, ge=1, le=16384)
    upscaling_resize_h: int = Field(512, ge=1, le=16384)
    upscaling_crop: bool = True
    upscaler_1: str | None = "None"
    upscaler_2: str | None = "None"
    extras_upscaler_2_visibility: float = Field(0, ge=0, le=1)
    upscale_first: bool = False


class ExtrasSingleImageRequest(ExtrasOptions):
    image: str = Field("", description="base64 image (a data: prefix is allowed)")


class FileData(BaseModel):
    data: str
    name: str = ""


class ExtrasBatchImagesRequest(ExtrasOptions):
    imageList: list[FileData] = Field(default_factory=list)


class ExtrasSingleImageResponse(BaseModel):
    html_info: str
    image: str | None = None


class ExtrasBatchImagesResponse(BaseModel):
    html_info: str
    images: list[str]


def extras_request(payload: ExtrasOptions, images: list[Image.Image]) -> ExtrasRequest:
    """The pipeline's request from an API body; field names are the same, images already decoded."""
    names = {f.name for f in dataclasses.fields(ExtrasRequest)}
    values = {k: v for k, v in payload.model_dump().items() if k in names and k != "images"}
    return ExtrasRequest(images=tuple(images), **values)


def check_size(payload: ExtrasOptions, image: Image.Image, field: str) -> None:
    """Refuse results no machine wants to hold (a 4096² image scaled by 16 is 4 gigapixels)."""
    if payload.resize_mode == 1:
        scale = max(payload.upscaling_resize_w / image.width, payload.upscaling_resize_h / image.height)
    else:
        scale = payload.upscaling_resize
    if max(image.width, image.height) * scale > MAX_RESULT_SIDE:
        raise InvalidInput(field, f"{image.width}x{image.height} scaled by {scale:g} is larger than "
                           f"{MAX_RESULT_SIDE} pixels on a side", "a smaller image or scale")
