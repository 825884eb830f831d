"""The Extras routes' image work: resize by a factor or to a size with A1111's upscaler slots and blending.

Built-in upscalers are PIL resamplers (A1111's `Lanczos`, `Nearest`, and `None` = leave the image as it is);
model upscalers come from `services.upscalers` once the engine has them. Face restoration is refused by name.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from PIL import Image
from pydantic import BaseModel, Field

from modules.errors import InvalidInput

BUILTIN_UPSCALERS: dict[str, Any] = {"None": None, "Lanczos": Image.Resampling.LANCZOS,
                                     "Nearest": Image.Resampling.NEAREST}
MAX_SIDE = 8192


class ExtrasOptions(BaseModel):
    resize_mode: int = Field(0, ge=0, le=1, description="0: scale by upscaling_resize, 1: to w×h")
    show_extras_results: bool = True
    gfpgan_visibility: float = Field(0, ge=0, le=1)
    codeformer_visibility: float = Field(0, ge=0, le=1)
    codeformer_weight: float = Field(0, ge=0, le=1)
    upscaling_resize: float = Field(2, gt=0, le=8)
    upscaling_resize_w: int = Field(512, ge=1, le=MAX_SIDE)
    upscaling_resize_h: int = Field(512, ge=1, le=MAX_SIDE)
    upscaling_crop: bool = True
    upscaler_1: Optional[str] = "None"
    upscaler_2: Optional[str] = "None"
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
    image: Optional[str] = None


class ExtrasBatchImagesResponse(BaseModel):
    html_info: str
    images: list[str]


def upscaler_names(services) -> list[str]:
    models = getattr(services, "upscalers", None)
    extra = [n for n in getattr(models, "names", lambda: [])() if n not in BUILTIN_UPSCALERS] if models else []
    return [*BUILTIN_UPSCALERS, *extra]


def target_size(image: Image.Image, opts: ExtrasOptions) -> tuple[float, tuple[int, int] | None]:
    """(scale factor, crop size or None) as A1111's postprocessing_upscale computes them.

    >>> o = ExtrasOptions(resize_mode=1, upscaling_resize_w=100, upscaling_resize_h=50)
    >>> target_size(Image.new("RGB", (40, 40)), o)
    (2.5, (100, 50))
    """
    if opts.resize_mode == 1:
        scale = max(opts.upscaling_resize_w / image.width, opts.upscaling_resize_h / image.height)
        return scale, ((opts.upscaling_resize_w, opts.upscaling_resize_h) if opts.upscaling_crop else None)
    return opts.upscaling_resize, None


def _upscale(services, image: Image.Image, name: str, scale: float) -> Image.Image:
    if name in BUILTIN_UPSCALERS:
        size = (max(1, math.floor(image.width * scale)), max(1, math.floor(image.height * scale)))
        return image if BUILTIN_UPSCALERS[name] is None else image.resize(size, BUILTIN_UPSCALERS[name])
    models = getattr(services, "upscalers", None)
    if models is None or name not in upscaler_names(services):
        raise InvalidInput("upscaler", f"unknown upscaler {name!r}", ", ".join(upscaler_names(services)))
    return models.upscale(image, name, scale)


def check_options(services, opts: ExtrasOptions) -> None:
    for field in ("upscaler_1", "upscaler_2"):
        name = getattr(opts, field) or "None"
        if name not in upscaler_names(services):
            raise InvalidInput(field, f"unknown upscaler {name!r}", ", ".join(upscaler_names(services)))
    for field in ("gfpgan_visibility", "codeformer_visibility"):
        if getattr(opts, field) > 0:
            raise InvalidInput(field, "face restoration is not available in this version of Easel", "0")


def process_image(services, image: Image.Image, opts: ExtrasOptions) -> Image.Image:
    """Upscaler 1, optionally blended with upscaler 2, then the crop to the requested size."""
    image = image.convert("RGB")
    scale, crop = target_size(image, opts)
    if image.width * scale > MAX_SIDE or image.height * scale > MAX_SIDE:
        raise InvalidInput("upscaling_resize", f"the result would be larger than {MAX_SIDE} pixels on a side")
    first = _upscale(services, image, opts.upscaler_1 or "None", scale)
    second_name = opts.upscaler_2 or "None"
    if second_name != "None" and opts.extras_upscaler_2_visibility > 0:
        second = _upscale(services, image, second_name, scale)
        if second.size != first.size:
            second = second.resize(first.size, Image.Resampling.LANCZOS)
        first = Image.blend(first, second, opts.extras_upscaler_2_visibility)
    if crop is not None and first.size != crop and first.width >= crop[0] and first.height >= crop[1]:
        left, top = (first.width - crop[0]) // 2, (first.height - crop[1]) // 2
        first = first.crop((left, top, left + crop[0], top + crop[1]))
    return first
