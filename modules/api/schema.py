"""Pydantic models of the API, derived from the typed requests so the API, the UI and the infotext never drift.

A request model has one field per dataclass field (same name, same default, JSON-friendly type), then A1111's
API-only fields. Unknown fields are ignored, as A1111 does.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, create_model

from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import MAX_BATCH, MAX_SIZE, MAX_STEPS, MIN_SIZE, GenerationRequest

# Bounds published in the schema (the pipeline checks them again with its own messages).
CONSTRAINTS: dict[str, dict] = {
    "width": {"ge": MIN_SIZE, "le": MAX_SIZE, "multiple_of": 8},
    "height": {"ge": MIN_SIZE, "le": MAX_SIZE, "multiple_of": 8},
    "steps": {"ge": 1, "le": MAX_STEPS},
    "batch_size": {"ge": 1, "le": MAX_BATCH},
    "n_iter": {"ge": 1, "le": 10_000},
    "seed": {"ge": -1, "le": 2**32 - 1},
    "subseed": {"ge": -1, "le": 2**32 - 1},
    "subseed_strength": {"ge": 0.0, "le": 1.0},
    "cfg_scale": {"ge": 1.0, "le": 100.0},
    "seed_resize_from_w": {"ge": -1, "le": MAX_SIZE},  # noise is drawn at this size: unbounded is a DoS
    "seed_resize_from_h": {"ge": -1, "le": MAX_SIZE},
    "hr_scale": {"ge": 1.0, "le": 8.0},
    "hr_resize_x": {"ge": 0, "le": MAX_SIZE},
    "hr_resize_y": {"ge": 0, "le": MAX_SIZE},
    "hr_second_pass_steps": {"ge": 0, "le": MAX_STEPS},
    "refiner_switch_at": {"ge": 0.0, "le": 1.0},
}

# A1111 fields the API accepts beside the dataclass's: (type, default). Fields with no machinery behind them yet
# are listed in `UNSUPPORTED` and refused when set to anything but an off value, never silently ignored.
API_ONLY_COMMON: dict[str, tuple[Any, Any]] = {
    "sampler_index": (str, "Euler"),
    "script_name": (str | None, None),
    "script_args": (list[Any], []),
    "alwayson_scripts": (dict[str, Any], {}),
    "send_images": (bool, True),
    "do_not_save_samples": (bool, False),
    "override_settings_restore_afterwards": (bool, True),
    "restore_faces": (bool | None, None),
    "tiling": (bool | None, None),
    "infotext": (str | None, None),
    "force_task_id": (str | None, None),
    "disable_extra_networks": (bool, False),
    "comments": (dict[str, Any] | None, None),
    "denoising_strength": (float | None, None),
}
API_ONLY_TXT2IMG: dict[str, tuple[Any, Any]] = {
    "enable_hr": (bool, False),
    "hr_scale": (float, 2.0),
    "hr_upscaler": (str | None, None),
    "hr_second_pass_steps": (int, 0),
    "hr_resize_x": (int, 0),
    "hr_resize_y": (int, 0),
    "hr_sampler_name": (str | None, None),
    "hr_scheduler": (str | None, None),
    "hr_prompt": (str, ""),
    "hr_negative_prompt": (str, ""),
    "firstphase_width": (int, 0),
    "firstphase_height": (int, 0),
}
# field → what it needs; refused (422) when truthy and the request type has no such field yet.
UNSUPPORTED: dict[str, str] = {
    "enable_hr": "hires fix",
}


def api_type(tp: Any) -> Any:
    """The JSON-friendly version of a dataclass field type: tuples → lists, mappings → dicts, images → base64.

    >>> api_type(tuple[str, ...]), api_type(Mapping[str, Any]), api_type(Image.Image)
    (list[str], dict[str, typing.Any], <class 'str'>)
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Image.Image:
        return str
    if origin in (tuple, list) and args:
        return types.GenericAlias(list, (api_type(args[0]),))  # list[...] of a type known at run time
    if origin in (Mapping, dict, typing.Mapping) or tp in (Mapping, dict):
        return dict[str, Any]
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        return api_type(next(a for a in args if a is not type(None))) | None if type(None) in args else tp
    return tp


def _field(name: str, tp: Any, default: Any):
    default_arg = {"default_factory": lambda d=default: type(d)(d)} if isinstance(default, (list, dict)) else \
        {"default": default}
    return (tp, Field(**default_arg, **CONSTRAINTS.get(name, {})))


def request_model(name: str, request_type: type, extra: Mapping[str, tuple[Any, Any]],
                  api_defaults: Mapping[str, Any], api_types: Mapping[str, Any] | None = None) -> type[BaseModel]:
    """A pydantic model with the dataclass's fields (A1111 names and defaults) followed by `extra`.

    `api_types` overrides the JSON type of fields the dataclass types loosely (images held as `Any`).
    """
    hints = {**typing.get_type_hints(request_type), **(api_types or {})}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(request_type):
        if f.metadata.get("api") is False:  # filled from other API fields (e.g. controlnet_units)
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        if isinstance(default, tuple):
            default = list(default)
        if isinstance(default, Mapping):
            default = dict(default)
        default = api_defaults.get(f.name, default)
        tp = hints[f.name] if api_types and f.name in api_types else api_type(hints[f.name])
        fields[f.name] = _field(f.name, tp | None if default is None else tp, default)
    for key, (tp, default) in extra.items():
        if key not in fields:
            fields[key] = _field(key, tp, default)
    return create_model(name, __config__=ConfigDict(extra="ignore"), **fields)


# A1111: `sampler_name` unset means `sampler_index` (whose default is Euler); its API schema says 0.75 for
# `denoising_strength` (the hires pass's strength when enable_hr is set).
TXT2IMG_DEFAULTS = {"sampler_name": None, "denoising_strength": 0.75}
# img2img: images arrive as base64 strings; the API layer decodes them into the request's PIL images.
IMG2IMG_TYPES = {"init_images": list[str], "mask": str | None}

if TYPE_CHECKING:
    class ApiRequestModel(BaseModel):
        """What a type checker sees of the two request models built at run time below: fields of any type."""

        def __getattr__(self, name: str) -> Any: ...

    Txt2ImgApiRequest = ApiRequestModel
    Img2ImgApiRequest = ApiRequestModel
else:
    Txt2ImgApiRequest = request_model("StableDiffusionTxt2ImgProcessingAPI", GenerationRequest,
                                      {**API_ONLY_COMMON, **API_ONLY_TXT2IMG}, TXT2IMG_DEFAULTS)
    Img2ImgApiRequest = request_model("StableDiffusionImg2ImgProcessingAPI", Img2ImgRequest, API_ONLY_COMMON,
                                      TXT2IMG_DEFAULTS, IMG2IMG_TYPES)


class GenerationResponse(BaseModel):
    images: list[str] | None = Field(None, description="the generated images, bare base64 PNG")
    parameters: dict[str, Any]
    info: str = Field(description="a JSON string: prompt, all_seeds, infotexts, …")


class ErrorResponse(BaseModel):
    """A1111's error body; `detail` is a list of {loc, msg, type, field} for validation errors, else a string."""

    error: str
    detail: Any
    body: Any = None
    errors: Any = None


class ProgressState(BaseModel):
    skipped: bool
    interrupted: bool
    job: str
    job_count: int
    job_timestamp: str
    job_no: int
    sampling_step: int
    sampling_steps: int
    queue_size: int = 0


class ProgressResponse(BaseModel):
    progress: float
    eta_relative: float
    state: ProgressState
    current_image: str | None = None
    textinfo: str | None = None
    current_task: str | None = None


class PNGInfoRequest(BaseModel):
    image: str = Field(description="base64 image (a data: prefix is allowed)")


class PNGInfoResponse(BaseModel):
    info: str
    items: dict[str, Any]
    parameters: dict[str, Any]


class JobSubmitted(BaseModel):
    id: str
    status: str
    position: int | None = None


class JobStatus(BaseModel):
    id: str
    kind: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    position: int | None = None
    progress: float
    eta_relative: float | None = None
    sampling_step: int | None = None
    sampling_steps: int | None = None
    textinfo: str | None = None
    error: str | None = None
    error_status: int | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    worker: str | None = Field(None, description="the worker that runs or ran it ('local' without a cluster)")
    waiting_for: str | None = Field(None, description="why a queued job cannot start yet, if it cannot")


class WorkerStatus(BaseModel):
    name: str
    device: str
    model: str | None = None
    running: str | None = Field(None, description="id of the job it runs now")
    alive: bool
    threads: int | None = None
    loads: int | None = Field(None, description="checkpoint loads since the worker started")
    version: str | None = None
    pid: int | None = None


class WorkersStatus(BaseModel):
    workers: list[WorkerStatus]
    queued: int = Field(description="jobs waiting in the queue")


class JobResult(GenerationResponse):
    id: str
    status: str
