"""The typed request every generation starts from; the UI, the API schema and the infotext derive from it."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Self

from modules.controlnet.units import ControlUnit, coerce_units
from modules.errors import InvalidInput

MIN_SIZE, MAX_SIZE = 64, 2048
MAX_STEPS = 1000
MAX_BATCH = 64


@dataclass(frozen=True)
class GenerationRequest:
    """One txt2img request, with A1111's field names and the API's defaults."""

    prompt: str = ""
    negative_prompt: str = ""
    styles: tuple[str, ...] = ()
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0.0
    seed_resize_from_h: int = -1
    seed_resize_from_w: int = -1
    sampler_name: str = "Euler"
    scheduler: str = "Automatic"
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    eta: float | None = None
    s_churn: float | None = None
    s_tmax: float | None = None
    s_tmin: float | None = None
    s_noise: float | None = None
    override_settings: Mapping[str, Any] = field(default_factory=dict)
    save_images: bool = False
    do_not_save_grid: bool = False
    # Hires fix (txt2img): checked and run by modules/pipeline/hires.py
    enable_hr: bool = False
    denoising_strength: float | None = None  # None: 0.7 for the hires pass (A1111's UI default)
    firstphase_width: int = 0
    firstphase_height: int = 0
    hr_scale: float = 2.0
    hr_upscaler: str | None = None  # None: "Latent"
    hr_second_pass_steps: int = 0  # 0: the first pass's steps
    hr_resize_x: int = 0
    hr_resize_y: int = 0
    hr_sampler_name: str | None = None  # None: the first pass's sampler
    hr_scheduler: str | None = None
    hr_checkpoint_name: str | None = None  # another checkpoint for the second pass (None, "Use same checkpoint": no)
    hr_prompt: str = ""  # "": the first pass's prompt
    hr_negative_prompt: str = ""
    firstpass_image: Any = None  # hires fix from this image (PIL, bytes or base64) instead of a first pass
    # Face restoration right after decoding (A1111): None follows the "face_restoration" setting
    restore_faces: bool | None = None
    # Seamless tiling (modules/models/tiling.py): None follows the "tiling" setting
    tiling: bool | None = None
    # Negative Guidance minimum sigma (A1111's NGMS): None follows the "s_min_uncond" setting; 0 is off
    s_min_uncond: float | None = None
    # Refiner (modules/pipeline/refiner.py): another checkpoint takes over the sampling at `refiner_switch_at`
    refiner_checkpoint: str | None = None  # None, "" or "None": no refiner
    refiner_switch_at: float | None = None  # fraction of the sampling done; None switches at the first step
    # Scripts (A1111's API names), opaque to the core: the extension host runs them around the pipeline
    script_name: str | None = None  # a selectable script's title; None: plain generation
    script_args: tuple[Any, ...] = ()  # that script's arguments, in the order of its ui() components
    alwayson_scripts: Mapping[str, Any] = field(default_factory=dict)  # title → {"args": [...]}
    # ControlNet units (modules/controlnet/units.py), enabled and name-checked; the API fills them from
    # alwayson_scripts["controlnet"], the UI from its unit tabs. Not an API field of its own (api: False).
    controlnet_units: tuple[ControlUnit, ...] = field(default=(), metadata={"api": False})
    # Who asked (A1111's p.user): the page login's or --api-auth's user name, set by the server, never by a payload
    user: str | None = field(default=None, metadata={"api": False})
    # Whether it came through the HTTP API (A1111's p.is_api: scripts read their arguments as the API sends them)
    is_api: bool = field(default=False, metadata={"api": False})

    def __post_init__(self):
        object.__setattr__(self, "styles", tuple(self.styles))
        object.__setattr__(self, "override_settings", MappingProxyType(dict(self.override_settings)))
        object.__setattr__(self, "script_args", tuple(self.script_args or ()))
        object.__setattr__(self, "alwayson_scripts", MappingProxyType(dict(self.alwayson_scripts or {})))
        object.__setattr__(self, "controlnet_units", coerce_units(self.controlnet_units))

    def replace(self, **changes) -> Self:
        """A copy with `changes`, of the same class (an Img2ImgRequest stays one)."""
        return dataclasses.replace(self, **changes)

    @property
    def total_images(self) -> int:
        return self.batch_size * self.n_iter


def _check_int(name: str, value, low: int, high: int, extra: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, f"expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(name, f"{value} is out of range", f"{low} to {high}{extra}")


def _check_number(name: str, value, low: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(name, f"expected a number, got {value!r}")
    if low is not None and value < low:
        raise InvalidInput(name, f"{value} is too small", f"{low} or more")


def validate_request(req: GenerationRequest) -> None:
    """Reject values no generation can use, naming the field. Sampler names are checked by the registry."""
    for name in ("width", "height"):
        value = getattr(req, name)
        _check_int(name, value, MIN_SIZE, MAX_SIZE, ", a multiple of 8")
        if value % 8:
            raise InvalidInput(name, f"{value} is not a multiple of 8",
                               f"a multiple of 8 from {MIN_SIZE} to {MAX_SIZE}, e.g. {value // 8 * 8 or 8}")
    _check_int("steps", req.steps, 1, MAX_STEPS)
    _check_int("batch_size", req.batch_size, 1, MAX_BATCH)
    _check_int("n_iter", req.n_iter, 1, 10_000)
    _check_int("seed", req.seed, -1, 2**32 - 1)
    _check_int("subseed", req.subseed, -1, 2**32 - 1)
    for name in ("seed_resize_from_w", "seed_resize_from_h"):  # ≤ 0: off; noise of that size is made, so bound it
        _check_int(name, getattr(req, name), -1, MAX_SIZE)
    _check_number("cfg_scale", req.cfg_scale, 1.0)
    _check_number("subseed_strength", req.subseed_strength, 0.0)
    if req.subseed_strength > 1:
        raise InvalidInput("subseed_strength", f"{req.subseed_strength} is above 1", "0 to 1")
    for name in ("eta", "s_churn", "s_tmax", "s_tmin", "s_noise"):
        if getattr(req, name) is not None:
            _check_number(name, getattr(req, name), 0.0)
    for name in ("restore_faces", "tiling"):
        value = getattr(req, name)
        if value is not None and not isinstance(value, bool):
            raise InvalidInput(name, f"expected true, false or null, got {value!r}")
    if req.s_min_uncond is not None:
        _check_number("s_min_uncond", req.s_min_uncond, 0.0)
    if req.refiner_checkpoint is not None and not isinstance(req.refiner_checkpoint, str):
        raise InvalidInput("refiner_checkpoint", f"expected a checkpoint name, got {req.refiner_checkpoint!r}")
    if req.refiner_switch_at is not None:
        _check_number("refiner_switch_at", req.refiner_switch_at, 0.0)
        if req.refiner_switch_at > 1:
            raise InvalidInput("refiner_switch_at", f"{req.refiner_switch_at} is above 1", "0 to 1")
    if req.firstpass_image is not None and not req.enable_hr:
        raise InvalidInput("firstpass_image", "is only used by hires fix", "enable_hr: true, or no firstpass_image")
    for name in ("prompt", "negative_prompt", "sampler_name", "scheduler"):
        if not isinstance(getattr(req, name), str):
            raise InvalidInput(name, f"expected text, got {getattr(req, name)!r}")
