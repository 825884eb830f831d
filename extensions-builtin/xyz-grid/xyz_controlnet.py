"""The X/Y/Z axes sd-webui-controlnet registers ("[ControlNet] Weight", …), for Easel's built-in ControlNet.

Each sets one field on every enabled ControlNet unit of the cell's request (`p.controlnet_units`). A cell without
units is refused: the axis would otherwise change nothing. Values are checked by the units and by the job
(docs/controlnet.md).
"""
from __future__ import annotations

import dataclasses

BOOL_TEXT = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def to_bool(x) -> bool:
    if isinstance(x, bool):
        return x
    text = str(x).strip().lower()
    if text not in BOOL_TEXT:
        raise RuntimeError(f"[ControlNet] Enabled: {x!r} is not True or False")
    return BOOL_TEXT[text]


def apply_unit_field(field: str, convert=lambda v: v):
    def apply(p, x, xs):
        units = tuple(getattr(p, "controlnet_units", None) or ())
        if not units:
            raise RuntimeError(f"the [ControlNet] axis sets {field} of ControlNet units, but this generation has "
                               "no enabled unit")
        p.controlnet_units = tuple(dataclasses.replace(u, **{field: convert(x)}) for u in units)
    return apply


def controlnet_axes(AxisOption, boolean_choice):
    """The extension's axes, in its order, built with xyz_axes' AxisOption."""
    modes = ["Balanced", "My prompt is more important", "ControlNet is more important"]
    resize = ["Just Resize", "Crop and Resize", "Resize and Fill"]
    return [
        AxisOption("[ControlNet] Enabled", str, apply_unit_field("enabled", to_bool), choices=boolean_choice()),
        AxisOption("[ControlNet] Model", str, apply_unit_field("model", str), cost=0.9),
        AxisOption("[ControlNet] Weight", float, apply_unit_field("weight", float)),
        AxisOption("[ControlNet] Guidance Start", float, apply_unit_field("guidance_start", float)),
        AxisOption("[ControlNet] Guidance End", float, apply_unit_field("guidance_end", float)),
        AxisOption("[ControlNet] Control Mode", str, apply_unit_field("control_mode", str), choices=lambda: modes),
        AxisOption("[ControlNet] Resize Mode", str, apply_unit_field("resize_mode", str), choices=lambda: resize),
        AxisOption("[ControlNet] Preprocessor", str, apply_unit_field("module", str)),
        AxisOption("[ControlNet] Pre Resolution", int, apply_unit_field("processor_res", int)),
        AxisOption("[ControlNet] Pre Threshold A", float, apply_unit_field("threshold_a", float)),
        AxisOption("[ControlNet] Pre Threshold B", float, apply_unit_field("threshold_b", float)),
    ]
