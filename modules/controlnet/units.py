"""ControlNet units as typed values, and the parser for sd-webui-controlnet's API forms of them.

A unit is what one ControlNet tab holds: a preprocessor (`module`), a ControlNet file (`model`), a control image and
how strongly and when it steers. Field names, defaults and enum texts are sd-webui-controlnet's, so its API clients
(`alwayson_scripts: {"controlnet": {"args": [...]}}`, webuiapi's ControlNetUnit) work unchanged; see docs/controlnet.md.

The enums are `str` enums, so a unit encodes to JSON as the extension's texts (the job store keeps requests as JSON).
Images are PIL images once parsed: `image` is RGB, `mask` is "L" (white = masked). Decoding base64 is the caller's
job (the API passes its decoder), so this module stays free of I/O. Names (module, model) are checked later, against
the registries, by `check_unit_names` — parsing knows no registry.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, StrEnum
from typing import Any

import numpy as np
from PIL import Image

from modules.errors import InvalidInput


class ResizeMode(StrEnum):
    """How the control image is fitted to the generation size (modules/controlnet/resize.py)."""

    JUST_RESIZE = "Just Resize"
    CROP_AND_RESIZE = "Crop and Resize"
    RESIZE_AND_FILL = "Resize and Fill"

    @property
    def int_value(self) -> int:
        return list(ResizeMode).index(self)


# Older names the extension still accepts; 3 was "Just Resize (Latent upscale)".
_RESIZE_ALIASES = {
    "Inner Fit (Scale to Fit)": ResizeMode.CROP_AND_RESIZE,
    "Scale to Fit (Inner Fit)": ResizeMode.CROP_AND_RESIZE,
    "Outer Fit (Shrink to Fit)": ResizeMode.RESIZE_AND_FILL,
    "Envelope (Outer Fit)": ResizeMode.RESIZE_AND_FILL,
    "Just Resize (Latent upscale)": ResizeMode.JUST_RESIZE,
}


class ControlMode(StrEnum):
    """How the ControlNet's residuals are balanced against the prompt (A1111's "guess mode" grew into this)."""

    BALANCED = "Balanced"
    PROMPT = "My prompt is more important"
    CONTROL = "ControlNet is more important"


class HiresOption(StrEnum):
    """Which pass of hires fix a unit steers."""

    BOTH = "Both"
    LOW_RES_ONLY = "Low res only"
    HIGH_RES_ONLY = "High res only"


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet unit. -1 in processor_res / threshold_a / threshold_b means the preprocessor's default."""

    enabled: bool = False
    module: str = "none"
    model: str = "None"
    weight: float = 1.0
    image: Image.Image | None = None  # RGB; None in img2img means "the init image"
    mask: Image.Image | None = None  # "L", white = masked; used by inpaint_* preprocessors
    resize_mode: ResizeMode = ResizeMode.CROP_AND_RESIZE
    low_vram: bool = False
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    pixel_perfect: bool = False
    control_mode: ControlMode = ControlMode.BALANCED
    hr_option: HiresOption = HiresOption.BOTH
    save_detected_map: bool = True

    def __post_init__(self):  # enum fields also take their texts and ints (X/Y/Z axes and scripts set them so)
        object.__setattr__(self, "resize_mode", parse_resize_mode("resize_mode", self.resize_mode))
        object.__setattr__(self, "control_mode", parse_control_mode("control_mode", self.control_mode))
        object.__setattr__(self, "hr_option", _enum_value("hr_option", HiresOption, self.hr_option))

    def replace(self, **changes) -> ControlUnit:
        return dataclasses.replace(self, **changes)


def coerce_units(values) -> tuple[ControlUnit, ...]:
    """A request's `controlnet_units` as ControlUnits; dicts are what the job store reads back from JSON."""
    return tuple(v if isinstance(v, ControlUnit) else unit_from_dict(v, f"controlnet_units[{i}]", None, False)
                 for i, v in enumerate(values or ()))


# The order of the extension's 1.0 API, where a unit was 15 flat values starting with `enabled` (a bool).
POSITIONAL_FIELDS = ("enabled", "module", "model", "weight", "image", "resize_mode", "low_vram", "processor_res",
                     "threshold_a", "threshold_b", "guidance_start", "guidance_end", "guess_mode", "pixel_perfect",
                     "control_mode")

# Old key → current key, as the extension maps them.
_KEY_ALIASES = {"input_image": "image", "lowvram": "low_vram", "guidance": "guidance_end", "guessmode": "guess_mode",
                "mask_image": "mask"}

# Extension fields Easel does not implement: accepted only at their default, so no value is silently dropped.
_UNSUPPORTED_AT_DEFAULT: dict[str, tuple[object, ...]] = {
    "input_mode": ("simple",), "batch_images": (None, "", []), "output_dir": ("",), "loopback": (False,),
    "advanced_weighting": (None,), "effective_region_mask": (None,), "ipadapter_input": (None,),
    "batch_mask_dir": (None,), "animatediff_batch": (False,), "batch_modifiers": (None, []),
    "batch_image_files": (None, []), "batch_keyframe_idx": (None,), "pulid_mode": ("Fidelity",),
    "union_control_type": ("Unknown",),
}

Decoder = Callable[[str, Any], Image.Image]  # (field, base64 text) → image; raises InvalidInput


def parse_resize_mode(field: str, value) -> ResizeMode:
    """The extension's texts, its aliases and the ints 0/1/2 (3: old latent upscale → Just Resize).

    >>> parse_resize_mode("f", "Inner Fit (Scale to Fit)").value
    'Crop and Resize'
    >>> parse_resize_mode("f", 2).value
    'Resize and Fill'
    """
    if isinstance(value, ResizeMode):
        return value
    if isinstance(value, str) and value in _RESIZE_ALIASES:
        return _RESIZE_ALIASES[value]
    return _enum_value(field, ResizeMode, value, extra_ints={3: ResizeMode.JUST_RESIZE})


def parse_control_mode(field: str, value) -> ControlMode:
    """
    >>> parse_control_mode("f", 1).value
    'My prompt is more important'
    """
    return _enum_value(field, ControlMode, value)


def _enum_value(field: str, enum: type[Enum], value, extra_ints: Mapping[int, Enum] | None = None):
    if isinstance(value, enum):
        return value
    members = list(enum)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(members):
            return members[value]
        if extra_ints and value in extra_ints:
            return extra_ints[value]
    elif isinstance(value, str):
        for member in members:
            if value == member.value or value == member.name:
                return member
    valid = ", ".join(f'"{m.value}"' for m in members) + f" or 0 to {len(members) - 1}"
    raise InvalidInput(field, f"unknown value {value!r}", valid)


def units_from_api(args: Sequence[Any] | None, decode: Decoder | None = None) -> tuple[ControlUnit, ...]:
    """`alwayson_scripts.controlnet.args` → units, in order; None entries are skipped (the extension does too).

    Each entry is a dict (current API), a ControlUnit, or the 1.0 flat form: 15 values starting with a bool.
    Errors name the unit as `controlnet.args[i].field`.

    >>> [u.module for u in units_from_api([{"module": "canny"}, None, True, "invert", "m", 0.5])]
    ['canny', 'invert']
    >>> units_from_api([{"weight": 3}])
    Traceback (most recent call last):
    modules.errors.InvalidInput: controlnet.args[0].weight: 3 is out of range (valid: 0 to 2)
    """
    if args is None:
        return ()
    if not isinstance(args, (list, tuple)):
        raise InvalidInput("controlnet.args", f"expected a list of units, got {type(args).__name__}")
    units, i = [], 0
    while i < len(args):
        entry, where = args[i], f"controlnet.args[{i}]"
        if isinstance(entry, bool):
            values = args[i:i + len(POSITIONAL_FIELDS)]
            units.append(unit_from_dict(dict(zip(POSITIONAL_FIELDS, values)), where, decode, default_enabled=True))
            i += len(POSITIONAL_FIELDS)
            continue
        if isinstance(entry, ControlUnit):
            units.append(entry)
        elif isinstance(entry, Mapping):
            units.append(unit_from_dict(entry, where, decode))
        elif entry is not None:
            raise InvalidInput(where, f"expected a unit (an object of unit fields), got {type(entry).__name__}")
        i += 1
    return tuple(units)


def unit_from_dict(values: Mapping[str, Any], where: str = "unit", decode: Decoder | None = None,
                   default_enabled: bool = True) -> ControlUnit:
    """One unit dict → ControlUnit. A dict without "enabled" counts as enabled (the extension's 1.1 API did so,
    and a client that sends a unit means it); unknown keys are ignored, as the extension ignores them."""
    values = _canonical_keys(values, where)
    _reject_unsupported(values, where)
    fields: dict[str, Any] = {"enabled": _bool(f"{where}.enabled", values.get("enabled", default_enabled))}
    for name in ("module", "model"):
        if name in values:
            fields[name] = _text(f"{where}.{name}", values[name])
    fields.update(_numbers(values, where))
    for name in ("low_vram", "pixel_perfect", "save_detected_map"):
        if name in values and values[name] is not None:
            fields[name] = _bool(f"{where}.{name}", values[name])
    if values.get("resize_mode") is not None:
        fields["resize_mode"] = parse_resize_mode(f"{where}.resize_mode", values["resize_mode"])
    if values.get("control_mode") is not None:
        fields["control_mode"] = parse_control_mode(f"{where}.control_mode", values["control_mode"])
    elif values.get("guess_mode"):
        fields["control_mode"] = ControlMode.CONTROL
    if values.get("hr_option") is not None:
        fields["hr_option"] = _enum_value(f"{where}.hr_option", HiresOption, values["hr_option"])
    fields["image"], fields["mask"] = _images(values, where, decode)
    return ControlUnit(**fields)


def _canonical_keys(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise InvalidInput(where, f"expected an object of unit fields, got {type(values).__name__}")
    out = dict(values)
    for old, new in _KEY_ALIASES.items():
        if old in out:
            if new in out and out[new] not in (None, "") and out[old] not in (None, ""):
                raise InvalidInput(f"{where}.{old}", f"given together with '{new}'", f"only '{new}'")
            value = out.pop(old)
            if out.get(new) in (None, ""):
                out[new] = value
    return out


def _reject_unsupported(values: Mapping[str, Any], where: str) -> None:
    for name, defaults in _UNSUPPORTED_AT_DEFAULT.items():
        if name in values and not any(type(values[name]) is type(d) and values[name] == d for d in defaults):
            raise InvalidInput(f"{where}.{name}", "is not supported by Easel's ControlNet",
                               f"leave it out or send {defaults[0]!r}")


def _numbers(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ranges = {"weight": (0.0, 2.0), "guidance_start": (0.0, 1.0), "guidance_end": (0.0, 1.0)}
    for name in ("weight", "guidance_start", "guidance_end", "processor_res", "threshold_a", "threshold_b"):
        if values.get(name) is None:
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise InvalidInput(f"{where}.{name}", f"expected a number, got {value!r}")
        if name in ranges and not ranges[name][0] <= value <= ranges[name][1]:
            low, high = ranges[name]
            raise InvalidInput(f"{where}.{name}", f"{value} is out of range", f"{low:g} to {high:g}")
        out[name] = int(round(value)) if name == "processor_res" else float(value)
    start = out.get("guidance_start", ControlUnit.guidance_start)
    end = out.get("guidance_end", ControlUnit.guidance_end)
    if start > end:
        raise InvalidInput(f"{where}.guidance_start", f"{start:g} is after guidance_end {end:g}",
                           "guidance_start ≤ guidance_end")
    return out


def _bool(field: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, f"expected true or false, got {value!r}")
    return value


def _text(field: str, value) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, f"expected a name, got {value!r}")
    return value


def _images(values: Mapping[str, Any], where: str, decode: Decoder | None):
    """image as base64 / PIL / numpy, {"image", "mask"}, [image, mask], or a one-entry list of such dicts."""
    image, mask = values.get("image"), values.get("mask")
    field = f"{where}.image"
    if isinstance(image, (list, tuple)):
        if len(image) == 1 and isinstance(image[0], Mapping):
            image = image[0]
        elif len(image) == 2 and not isinstance(image[0], Mapping):
            image, mask = image
        else:
            raise InvalidInput(field, f"a list of {len(image)} entries", "one image per unit: an image, "
                               '{"image": ..., "mask": ...} or [image, mask]')
    if isinstance(image, Mapping):
        mask = image.get("mask", mask)
        image = image.get("image")
    rgb = to_rgb(field, image, decode)
    gray = to_mask(f"{where}.mask", mask, decode)
    if rgb is None and gray is not None:
        raise InvalidInput(f"{where}.mask", "given without an image", "send the image the mask belongs to")
    if rgb is not None and gray is not None and gray.size != rgb.size:
        raise InvalidInput(f"{where}.mask", f"is {gray.size[0]}x{gray.size[1]} but the image is "
                           f"{rgb.size[0]}x{rgb.size[1]}", "a mask of the image's size")
    return rgb, gray


def _any_image(field: str, value, decode: Decoder | None) -> Image.Image | None:
    if value is None or (isinstance(value, str) and not value):
        return None
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        return _from_array(field, value)
    if isinstance(value, str):
        if decode is None:
            raise InvalidInput(field, "base64 images are only read through the API", "a PIL image")
        return decode(field, value)
    raise InvalidInput(field, f"expected an image, got {type(value).__name__}", "a base64-encoded PNG or JPEG")


def _from_array(field: str, array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidInput(field, f"an array of shape {array.shape}", "H×W, H×W×1, H×W×3 or H×W×4")
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def to_rgb(field: str, value, decode: Decoder | None = None) -> Image.Image | None:
    """RGB; transparent pixels become white, as the extension flattens RGBA control images."""
    image = _any_image(field, value, decode)
    if image is None or image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def to_mask(field: str, value, decode: Decoder | None = None) -> Image.Image | None:
    """"L"; an RGBA mask (a sketch layer) counts where it is opaque or bright."""
    image = _any_image(field, value, decode)
    if image is None:
        return None
    if image.mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"))
        gray = np.asarray(image.convert("L"))
        return Image.fromarray(np.where(alpha < 255, alpha, gray).astype(np.uint8), "L")
    return image.convert("L")


def check_unit_names(units: Sequence[ControlUnit], modules: Sequence[str], models: Sequence[str],
                     model_free: Sequence[str] = ()) -> tuple[ControlUnit, ...]:
    """Enabled units with their names checked and canonical: a model may be given with or without its
    " [hash]" suffix (as the extension matches); modules in `model_free` need no model. Disabled units drop out."""
    out = []
    for i, unit in enumerate(units):
        if not unit.enabled:
            continue
        where = f"controlnet.args[{i}]"
        if unit.module not in modules:
            raise InvalidInput(f"{where}.module", f"unknown preprocessor {unit.module!r}",
                               "GET /controlnet/module_list")
        model = match_model_name(unit.model, models)
        if unit.module in model_free:
            out.append(unit.replace(model=model or unit.model))
            continue
        if model is None:
            problem = "no ControlNet model chosen" if unit.model in ("None", "") else f"unknown model {unit.model!r}"
            raise InvalidInput(f"{where}.model", problem, "GET /controlnet/model_list")
        out.append(unit.replace(model=model))
    return tuple(out)


def match_model_name(name: str, models: Sequence[str]) -> str | None:
    """The listed name `name` means: exact, or equal without the " [hash]" suffix on either side.

    >>> match_model_name("control_canny", ["control_canny [abc123]"])
    'control_canny [abc123]'
    >>> match_model_name("None", ["control_canny [abc123]"]) is None
    True
    """
    if name in models:
        return name
    bare = name.split(" [")[0]
    for model in models:
        if model.split(" [")[0] == bare:
            return model
    return None
