"""API payloads → typed requests: A1111's sampler_index, `infotext` filling unset fields, scripts, settings.

Everything a user can get wrong is refused here with InvalidInput naming the field, before the job is queued.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pydantic import BaseModel

from modules.api.controlnet import take_controlnet
from modules.api.schema import UNSUPPORTED
from modules.api.settings_checks import check_model_names, check_settings, pin_default_checkpoint
from modules.errors import EaselError, InvalidInput
from modules.imaging.infotext_fields import INFOTEXT_FIELDS
from modules.imaging.infotext_settings import INFOTEXT_SETTINGS
from modules.imaging.paste_rules import A1111_PASTE_RULES, PasteRules, StyleSource, paste_params

# A1111 turns hires fix on for a pasted infotext with a denoising strength and any of these (docs/api.md).
HIRES_KEYS = ("Hires upscale", "Hires upscaler", "Hires resize-1")
IMAGE_FIELDS = ("init_images", "mask")


def _typed(key: str, value: object, kind: Callable[[str], Any]):
    text = str(value)
    try:
        return int(float(text)) if kind is int else kind(text)
    except ValueError:
        raise InvalidInput("infotext", f"{key}: {text!r} is not a {getattr(kind, '__name__', 'value')}") from None


def fill_from_infotext(data: dict, explicitly_set: set[str], text: str, known_fields: set[str],
                       rules: PasteRules = A1111_PASTE_RULES, styles: StyleSource | None = None,
                       vae_names: Collection[str] = ()) -> dict:
    """Fields the request did not set take their values from the infotext (A1111 1.10's `infotext` field), read
    with the Infotext settings `rules` (styles inferred from the prompts against `styles`, disregarded fields,
    the checkpoint from `Model hash`; modules/imaging/paste_rules.py). `VAE` selects that VAE when it is one of
    `vae_names` (A1111 goes on without a VAE it does not have, so an unknown one is left out).

    >>> out = fill_from_infotext({"steps": 50, "prompt": "mine", "override_settings": {}}, {"prompt"},
    ...                          "a cat\\nSteps: 12, Sampler: Euler a, Seed: 5, Size: 64x96, Clip skip: 2, "
    ...                          "Extra noise: 0.2",
    ...                          {"steps", "prompt", "seed", "width", "height", "sampler_name"})
    >>> out["prompt"], out["steps"], out["seed"], out["width"], out["height"], out["sampler_name"]
    ('mine', 12, 5, 64, 96, 'Euler a')
    >>> {k: out["override_settings"][k] for k in ("CLIP_stop_at_last_layers", "randn_source", "img2img_extra_noise")}
    {'CLIP_stop_at_last_layers': 2, 'randn_source': 'GPU', 'img2img_extra_noise': 0.2}
    >>> out["override_settings"]["sd_vae_decode_method"], out["override_settings"]["sigma_min"]  # A1111's fill-ins
    ('Full', 0.0)
    >>> hires = "x\\nSteps: 4, Seed: 1, Size: 64x64, Denoising strength: 0.5, Hires upscale: 1.5"
    >>> out = fill_from_infotext({}, set(), hires, {"enable_hr", "denoising_strength", "hr_scale"})
    >>> out["enable_hr"], out["denoising_strength"], out["hr_scale"]
    (True, 0.5, 1.5)
    """
    params = paste_params(text, rules, styles)
    data = dict(data)
    for key, name, kind in INFOTEXT_FIELDS:
        if key in params and name in known_fields and name not in explicitly_set:
            data[name] = _typed(key, params[key], kind)
    if "Styles array" in params and "styles" in known_fields and "styles" not in explicitly_set:
        data["styles"] = list(params["Styles array"])
    if "enable_hr" in known_fields and "enable_hr" not in explicitly_set and "Denoising strength" in params \
            and any(key in params for key in HIRES_KEYS):
        data["enable_hr"] = True
    overrides = dict(data.get("override_settings") or {})
    for key, setting, parse in INFOTEXT_SETTINGS:
        if key in params and setting not in overrides:
            overrides[setting] = _typed(key, params[key], parse)
    if str(params.get("VAE")) in vae_names and "sd_vae" not in overrides:
        overrides["sd_vae"] = str(params["VAE"])
    if rules.checkpoint and "Model hash" in params and "sd_model_checkpoint" not in overrides:
        overrides["sd_model_checkpoint"] = str(params["Model hash"])  # found by its short hash, as in A1111
    data["override_settings"] = overrides
    return data


def check_unsupported(data: Mapping[str, Any], request_type: type) -> None:
    """Refuse features the engine does not have yet instead of silently dropping them (an A1111 weakness)."""
    names = {f.name for f in dataclasses.fields(request_type)}
    for name, feature in UNSUPPORTED.items():
        if name not in names and data.get(name):
            raise InvalidInput(name, f"{feature} is not available in this version of Easel", "false / null")


def check_scripts(data: Mapping[str, Any], scripts: Mapping[str, bool]) -> None:
    """`script_name` must name a selectable script and `alwayson_scripts` always-on ones (title → always-on),
    case-insensitively; A1111 answers 422 too.

    >>> check_scripts({"script_name": "X/Y/Z plot"}, {"X/Y/Z plot": False})
    >>> check_scripts({"script_name": "nope"}, {"X/Y/Z plot": False})
    Traceback (most recent call last):
    modules.errors.InvalidInput: script_name: unknown script 'nope' (valid: X/Y/Z plot)
    """
    selectable = [t for t, alwayson in scripts.items() if not alwayson]
    alwayson = [t for t, on in scripts.items() if on]
    name = data.get("script_name")
    if name and name.lower() not in {s.lower() for s in selectable}:
        raise InvalidInput("script_name", f"unknown script {name!r}", ", ".join(selectable) or "none installed")
    entries = data.get("alwayson_scripts") or {}
    if not isinstance(entries, Mapping):
        raise InvalidInput("alwayson_scripts", "expected an object of script title: {\"args\": [...]}")
    for key, entry in entries.items():
        if key.lower() not in {s.lower() for s in alwayson}:
            raise InvalidInput(f"alwayson_scripts.{key}", "unknown always-on script", ", ".join(alwayson) or
                               "none installed")
        if not isinstance(entry, Mapping) or not isinstance(entry.get("args", []), list):
            raise InvalidInput(f"alwayson_scripts.{key}", "expected an object with a list \"args\"")


def native_size_defaults(app, data: dict, explicitly_set: set[str]) -> dict:
    """Width/height the request (and its infotext) left unset take the checkpoint's native size: 64 for the
    built-in model, whose 512×512 pictures would be tiled nonsense (A1111's 512 stays for SD 1.x)."""
    unset = [name for name in ("width", "height") if name not in explicitly_set]
    if not unset or data.get("infotext"):
        return data
    checkpoint = (data.get("override_settings") or {}).get("sd_model_checkpoint") or \
        app.options.get("sd_model_checkpoint") or None
    try:
        size = app.models.native_size(checkpoint)
    except EaselError:
        return data  # an unknown checkpoint is reported by check_model_names, naming the field
    return {**data, **dict.fromkeys(unset, size)}


def decode_images(values: dict, opts: Mapping[str, Any]) -> dict:
    """img2img's base64 `init_images` and `mask` → PIL images, each error naming its field."""
    from modules.api.images import decode_image

    values = dict(values)
    if "init_images" in values:
        values["init_images"] = tuple(decode_image(f"init_images[{i}]", v, opts)
                                      for i, v in enumerate(values["init_images"] or ()))
    if "mask" in values:
        values["mask"] = decode_image("mask", values["mask"], opts) if values["mask"] else None
    return values


def to_request(payload: BaseModel, request_type: type, *, app, scripts: Mapping[str, Any],
               validate: Callable[[Any], None] | None = None) -> Any:
    """Build the typed request of an API payload and run the checks a job would fail on."""
    names = {f.name for f in dataclasses.fields(request_type)}
    data = payload.model_dump()
    if data.get("infotext"):
        data = fill_from_infotext(data, set(payload.model_fields_set), data["infotext"], names,
                                  PasteRules.from_options(app.options), getattr(app.services, "styles", None),
                                  [vae.name for vae in app.models.list_vaes()])
    check_unsupported(data, request_type)
    data = take_controlnet(app, data, bool(data.get("init_images")))  # built in: not an installed script
    check_scripts(data, scripts)
    data = native_size_defaults(app, data, set(payload.model_fields_set))
    data["sampler_name"] = data.get("sampler_name") or data.get("sampler_index") or "Euler"
    data["scheduler"] = data.get("scheduler") or "Automatic"
    if data.get("do_not_save_samples"):
        data["save_images"] = False
    data["do_not_save_grid"] = not data.get("save_images")  # A1111's API: no grid unless the images are saved
    overrides = data.get("override_settings") or {}
    check_settings(overrides, app.options, app.paths.data_dir, "override_settings")
    check_model_names(app, overrides, "override_settings")
    values = decode_images({k: v for k, v in data.items() if k in names}, app.options.data())
    request = request_type(**values)
    precheck(app, request, validate)
    pin_default_checkpoint(app, overrides)
    return request


def precheck(app, request, validate: Callable[[Any], None] | None = None) -> None:
    """Names and values a job would fail on, checked before it is queued (the job checks them again)."""
    from modules.pipeline.request import validate_request

    from modules.pipeline.refiner_plan import find_refiner, wants_refiner

    (validate or validate_request)(request)
    if wants_refiner(request.refiner_checkpoint):
        find_refiner(app.models, request.refiner_checkpoint)  # unknown → 422 naming the field and the valid names
    if getattr(request, "hr_checkpoint_name", None):  # txt2img's hires checkpoint: unknown → 422 likewise
        from modules.pipeline.hires import hires_checkpoint

        hires_checkpoint(app.models, request)
    app.services.samplers.resolve_sampler(request.sampler_name)
    app.services.samplers.resolve_scheduler(request.scheduler)


def json_friendly(value: Any) -> Any:
    """Tuples → lists, mappings → dicts, recursively (a request field as the JSON echo shows it).

    >>> json_friendly({"styles": ("a", "b"), "o": {"k": (1,)}})
    {'styles': ['a', 'b'], 'o': {'k': [1]}}
    """
    if isinstance(value, Mapping):
        return {str(k): json_friendly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_friendly(v) for v in value]
    return value


def api_parameters(payload: BaseModel, request: Any) -> dict:
    """The response's `parameters`: the request as sent, with every field of the typed request as it was used (filled
    from `infotext`, sizes and sampler defaults resolved); images stay as they were sent (or left out)."""
    echo = payload.model_dump()
    for f in dataclasses.fields(request):
        if f.name not in IMAGE_FIELDS and f.metadata.get("api") is not False:
            echo[f.name] = json_friendly(getattr(request, f.name))
    return echo
