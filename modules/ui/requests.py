"""UI field values → a typed request. Field names are the request's A1111 names, so the map is mostly identity."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modules.errors import EaselError
from modules.imaging.infotext_settings import overrides_from_pairs

INT_FIELDS = frozenset({"steps", "width", "height", "seed", "subseed", "n_iter", "batch_size", "seed_resize_from_w",
                        "seed_resize_from_h", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y", "mask_blur",
                        "inpainting_fill", "inpaint_full_res_padding", "inpainting_mask_invert", "resize_mode"})
FLOAT_FIELDS = frozenset({"cfg_scale", "subseed_strength", "denoising_strength", "hr_scale", "image_cfg_scale",
                          "initial_noise_multiplier", "refiner_switch_at"})
# A field the UI offers before the pipeline supports it: refusing beats silently ignoring (e.g. hires fix).
FEATURE_FIELDS = {"enable_hr": "Hires. fix"}


def _convert(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in INT_FIELDS:
        return int(round(float(value)))
    if name in FLOAT_FIELDS:
        return float(value)
    return value


def seed_extras(values: dict[str, Any]) -> dict[str, Any]:
    """With the seed "Extra" box closed the variation-seed fields are off, as in A1111.

    >>> seed_extras({"seed_extras": False, "subseed": 5, "subseed_strength": 0.3})
    {'subseed': -1, 'subseed_strength': 0.0, 'seed_resize_from_w': -1, 'seed_resize_from_h': -1}
    >>> seed_extras({"seed_extras": True, "subseed": 5})
    {'subseed': 5}
    """
    show = values.pop("seed_extras", True)
    if not show:
        values.update(subseed=-1, subseed_strength=0.0, seed_resize_from_w=-1, seed_resize_from_h=-1)
    for name in ("seed_resize_from_w", "seed_resize_from_h"):  # the sliders' 0 means "off", as in A1111
        if name in values and (values[name] is None or values[name] <= 0):
            values[name] = -1
    return values


def refiner_fields(values: dict[str, Any]) -> dict[str, Any]:
    """With the Refiner accordion's box off, or no checkpoint chosen, no refiner is sent (A1111's ScriptRefiner).

    >>> refiner_fields({"refiner_enable": False, "refiner_checkpoint": "xl", "refiner_switch_at": 0.8})
    {'refiner_checkpoint': None, 'refiner_switch_at': None}
    >>> refiner_fields({"refiner_enable": True, "refiner_checkpoint": "None", "refiner_switch_at": 0.8})
    {'refiner_checkpoint': None, 'refiner_switch_at': None}
    >>> refiner_fields({"refiner_enable": True, "refiner_checkpoint": "xl", "refiner_switch_at": 0.8})
    {'refiner_checkpoint': 'xl', 'refiner_switch_at': 0.8}
    """
    enabled = values.pop("refiner_enable", None)
    if enabled is None:  # a tab without the accordion
        return values
    if not enabled or values.get("refiner_checkpoint") in (None, "", "None"):
        values.update(refiner_checkpoint=None, refiner_switch_at=None)
    return values


def page_user(request) -> str | None:
    """The page login's user name of a Gradio event (`gr.Request`), or None without --gradio-auth.

    >>> page_user(type("R", (), {"username": "ann"})()), page_user(type("R", (), {"username": None})())
    ('ann', None)
    """
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else None


def build_request(request_type, values: Mapping[str, Any], **fixed: Any):
    """A `request_type` from UI values; values for fields the type lacks are dropped unless they switch a feature
    on that the pipeline does not have yet (then the user is told).

    >>> from modules.pipeline.request import GenerationRequest
    >>> build_request(GenerationRequest, {"steps": 20.0, "cfg_scale": 7, "prompt": None, "colour": "red"}).steps
    20
    """
    known = {f.name for f in dataclasses.fields(request_type)}
    values = refiner_fields(seed_extras(dict(values)))
    if "override_settings" in values:  # the Override settings box's "Key: value" entries
        values["override_settings"] = overrides_from_pairs(values["override_settings"] or ())
    for name, feature in FEATURE_FIELDS.items():
        if values.get(name) and name not in known:
            raise EaselError(f"{feature} is not available in this version of Easel yet; turn it off to generate")
    kwargs = {name: _convert(name, value) for name, value in values.items() if name in known}
    for text_field in ("prompt", "negative_prompt"):
        if text_field in kwargs and kwargs[text_field] is None:
            kwargs[text_field] = ""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    kwargs.update(fixed)
    return request_type(**kwargs)
