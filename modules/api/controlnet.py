"""sd-webui-controlnet's API: units in `alwayson_scripts.controlnet.args` → `controlnet_units`, and /controlnet/*.

The routes sit at the server root (`/controlnet/version`, …) as the extension mounts them; shapes are the extension's
(docs/controlnet.md). Units are checked before the job is queued: an unknown module or model, a unit without an
image where there is no init image, an inpaint unit without a mask are 422s naming `controlnet.args[i].field`.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Body

from modules.controlnet.units import ControlUnit, check_unit_names, units_from_api
from modules.errors import InvalidInput

API_VERSION = 3  # the extension's external_code.get_api_version()
SCRIPT_KEY = "controlnet"
# Control type → extra model-name fragments that count as that type (the extension's filter aliases).
TAG_ALIASES = {"instructp2p": ("ip2p",), "segmentation": ("seg",), "normalmap": ("normal",),
               "t2i-adapter": ("t2i_adapter", "t2iadapter", "t2ia"), "openpose": ("openpose", "densepose"),
               "scribble": ("sketch",), "tile": ("blur",)}


def registry_of(app):
    """The App's preprocessor table (modules/controlnet/preprocessors), or the built-in one."""
    registry = getattr(app.services, "controlnet_preprocessors", None)
    if registry is None:
        from modules.controlnet.preprocessors import default_registry

        registry = default_registry()
    return registry


def model_names(app) -> list[str]:
    library = getattr(app.services, "controlnets", None)
    return library.names() if library is not None else []


def take_controlnet(app, data: dict, has_init_image: bool) -> dict:
    """`data` with the "controlnet" entry moved out of alwayson_scripts into checked `controlnet_units`."""
    scripts = dict(data.get("alwayson_scripts") or {}) if isinstance(data.get("alwayson_scripts"), Mapping) else {}
    key = next((k for k in scripts if k.lower() == SCRIPT_KEY), None)
    if key is None:
        return data
    entry = scripts.pop(key)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("args", []), (list, tuple)):
        raise InvalidInput(f"alwayson_scripts.{key}", 'expected an object with a list "args" of units')
    opts = app.options.data()

    def decode(field: str, value: str):
        from modules.api.images import decode_image

        return decode_image(field, value, opts)

    units = units_from_api(entry.get("args") or [], decode)
    checked = check_units(app, units, has_init_image, bool(data.get("mask")))
    return {**data, "alwayson_scripts": scripts, "controlnet_units": checked}


def check_units(app, units: tuple[ControlUnit, ...], has_init_image: bool, has_mask: bool) -> tuple:
    """Enabled units with canonical names; every problem a 422 on the unit's field."""
    registry = registry_of(app)
    canonical = []
    for i, unit in enumerate(units):
        where = f"controlnet.args[{i}]"
        if not unit.enabled:
            canonical.append(unit)
            continue
        pre = registry.get(unit.module, f"{where}.module")
        if unit.image is None and not has_init_image:
            raise InvalidInput(f"{where}.image", "this enabled unit has no control image",
                               "a base64 image (or use img2img, where the init image is used), or enabled: false")
        if pre.requires_mask and unit.mask is None and not (unit.image is None and has_mask):
            raise InvalidInput(f"{where}.mask", f"the {pre.name} preprocessor needs a mask",
                               "a mask in the unit (white = to fill), or img2img inpaint with its mask")
        canonical.append(unit.replace(module=pre.name))
    if any(u.enabled for u in canonical) and getattr(app.services, "controlnets", None) is None:
        raise InvalidInput("alwayson_scripts.controlnet", "ControlNet models are not available in this server")
    model_free = [p.name for p in registry.all() if p.model_free]
    return check_unit_names(canonical, registry.names(), model_names(app), model_free)


def detected_maps(app, request, result) -> list:
    """The extension's extra API images: each enabled unit's detected map at the generation size (after the
    generated images), unless the unit says save_detected_map: false or the setting control_net_no_detectmap is on.
    Maps of the hires pass are not added."""
    units = [(i, u) for i, u in enumerate(getattr(request, "controlnet_units", ())) if u.enabled and
             u.save_detected_map]
    if not units or app.options.data().get("control_net_no_detectmap"):
        return []
    from modules.controlnet.detect import detect_for_unit, map_image

    registry = registry_of(app)
    seed = result.all_seeds[0] if result.all_seeds else 0
    init = getattr(request, "init_images", None) or (None,)
    return [map_image(detect_for_unit(registry, unit, request.width, request.height, seed=seed, init_image=init[0],
                                      init_mask=getattr(request, "mask", None), where=f"controlnet_units[{i}]"))
            for i, unit in units]


def control_types(registry, models: list[str]) -> dict:
    """/controlnet/control_types: per control type, its preprocessors (labels), matching models, defaults."""
    out = {"All": {"module_list": registry.names(labels=True), "model_list": ["None", *models],
                   "default_option": "none", "default_model": "None"}}
    for tag in sorted(registry.tags()):
        fragments = (tag.lower(), *TAG_ALIASES.get(tag.lower(), ()))
        matching = [m for m in models if any(f in m.lower() for f in fragments)]
        preprocessors = [p for p in registry.all() if tag in p.tags or p.name == "none"]
        default = preprocessors[1] if len(preprocessors) > 1 else preprocessors[0]
        default_model = next((m for m in matching if "11" in m.split("[")[0]), matching[0] if matching else "None")
        out[tag] = {"module_list": [p.shown_name for p in preprocessors], "model_list": ["None", *matching],
                    "default_option": default.shown_name, "default_model": default_model}
    return out


def png_base64(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def detect(app, module: str, images: list[str], masks: list[str], processor_res: float, threshold_a: float,
           threshold_b: float) -> dict:
    """/controlnet/detect: each image through the preprocessor at its own size (no resize mode)."""
    from modules.api.images import decode_image
    from modules.controlnet.detect import map_image, run_preprocessor_with_poses

    registry = registry_of(app)
    pre = registry.get(module, "controlnet_module")
    if not images:
        raise InvalidInput("controlnet_input_images", "no image given", "a list of base64 images")
    if pre.requires_mask and len(masks) != len(images):
        raise InvalidInput("controlnet_masks", f"the {pre.name} preprocessor needs one mask per image")
    opts = app.options.data()
    out, poses = [], []
    for i, text in enumerate(images):
        image = decode_image(f"controlnet_input_images[{i}]", text, opts)
        mask = decode_image(f"controlnet_masks[{i}]", masks[i], opts) if i < len(masks) else None
        detected, pose = run_preprocessor_with_poses(registry, pre.name, image, mask, processor_res=processor_res,
                                                     threshold_a=threshold_a, threshold_b=threshold_b,
                                                     where="controlnet")
        out.append(png_base64(map_image(detected)))
        if pose is not None:
            poses.append(pose)
    # The openpose family also answers the people found, one OpenPose JSON per image, as the extension does.
    return {"info": "Success", **({"poses": poses} if poses else {}), "images": out}


def render_openpose_json(pose_data: list) -> dict:
    """/controlnet/render_openpose_json: each OpenPose JSON drawn on its canvas (body, hands, face), as base64
    PNGs; a malformed entry is refused naming it (`pose_data[i].people[j].…`)."""
    if not pose_data:
        return {"info": "No pose data detected."}
    from modules.controlnet.preprocessors.openpose.draw import draw_persons
    from modules.controlnet.preprocessors.openpose.pose_json import decode_poses
    from PIL import Image

    decoded = [decode_poses(pose, f"pose_data[{i}]") for i, pose in enumerate(pose_data)]  # all checked first
    return {"images": [png_base64(Image.fromarray(draw_persons(h, w, people))) for people, h, w in decoded],
            "info": "Success"}


def build_router(app) -> APIRouter:
    router = APIRouter()

    @router.get("/controlnet/version")
    def version() -> dict:
        return {"version": API_VERSION}

    @router.get("/controlnet/model_list")
    def model_list(update: bool = True) -> dict:
        return {"model_list": model_names(app)}  # the folders are walked on every call

    @router.get("/controlnet/module_list")
    def module_list(alias_names: bool = False) -> dict:
        registry = registry_of(app)
        return {"module_list": registry.names(labels=alias_names),
                "module_detail": {(p.shown_name if alias_names else p.name): p.detail() for p in registry.all()}}

    @router.get("/controlnet/control_types")
    def control_types_route() -> dict:
        return {"control_types": control_types(registry_of(app), model_names(app))}

    @router.get("/controlnet/settings")
    def settings() -> dict:
        return {"control_net_unit_count": int(app.options.data().get("control_net_unit_count", 3))}

    @router.post("/controlnet/detect")
    def detect_route(controlnet_module: str = Body("none"), controlnet_input_images: list[str] = Body([]),
                     controlnet_processor_res: float = Body(-1), controlnet_threshold_a: float = Body(-1),
                     controlnet_threshold_b: float = Body(-1), controlnet_masks: list[str] = Body([]),
                     low_vram: bool = Body(False), controlnet_images: list[str] = Body([])) -> dict[str, Any]:
        # low_vram asks the extension to offload annotator networks; Easel runs them on the CPU, so there is none.
        # controlnet_images: the older name, still sent by webuiapi's controlnet_detect.
        return detect(app, controlnet_module, controlnet_input_images or controlnet_images, controlnet_masks,
                      controlnet_processor_res, controlnet_threshold_a, controlnet_threshold_b)

    @router.post("/controlnet/render_openpose_json")
    def render_openpose_json_route(pose_data: list[Any] = Body([])) -> dict[str, Any]:
        # The body is the list itself, as the extension takes it; entries are checked field by field in
        # modules/controlnet/preprocessors/openpose/pose_json.py so a 422 names the bad field.
        return render_openpose_json(pose_data)

    return router
