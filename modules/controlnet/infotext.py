"""ControlNet units in the infotext, as sd-webui-controlnet writes them, and back (paste into the unit tabs).

One entry per enabled unit: `ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1.0,
Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.0,
Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced"` (the infotext writer quotes it). Slider values are
written resolved (the preprocessor's default instead of -1), as the extension does. Images are not in the infotext.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum

from modules.controlnet.units import ControlUnit, unit_from_dict
from modules.errors import InvalidInput

FIELDS = ("module", "model", "weight", "resize_mode", "processor_res", "threshold_a", "threshold_b",
          "guidance_start", "guidance_end", "pixel_perfect", "control_mode")
KEY = re.compile(r"ControlNet (\d+)$")


def display_name(field: str) -> str:
    """
    >>> display_name("processor_res")
    'Processor Res'
    """
    return " ".join(word.capitalize() for word in field.split("_"))


def _text(value) -> str:
    return value.value if isinstance(value, Enum) else str(value)


def unit_text(unit: ControlUnit) -> str | None:
    """The entry's value; None when a value holds "," or ": " and could not be read back (the extension skips those).

    >>> unit_text(ControlUnit(enabled=True, module="canny", model="m [ab12]", processor_res=512)).split(", ")[:3]
    ['Module: canny', 'Model: m [ab12]', 'Weight: 1.0']
    """
    values = [(display_name(f), _text(getattr(unit, f))) for f in FIELDS]
    if any("," in v or ": " in v for _, v in values):
        return None
    return ", ".join(f"{k}: {v}" for k, v in values)


def resolved(unit: ControlUnit, registry) -> ControlUnit:
    """The unit with -1 / out-of-range sliders replaced by its preprocessor's defaults (what actually ran)."""
    try:
        pre = registry.lookup(unit.module)  # the sliders resolve whether or not annotator files are here
    except InvalidInput:
        return unit
    params = pre.params(unit.processor_res, unit.threshold_a, unit.threshold_b)
    return unit.replace(processor_res=params.resolution, threshold_a=float(params.a), threshold_b=float(params.b))


def units_infotext(units: Sequence[ControlUnit], registry=None) -> dict[str, str]:
    """`ControlNet i` entries for the enabled units, numbered by their place among all units; with the preprocessor
    `registry`, sliders are written as they ran."""
    out = {}
    for i, unit in enumerate(units):
        if registry is not None and unit.enabled:
            unit = resolved(unit, registry)
        text = unit_text(unit) if unit.enabled else None
        if text is not None:
            out[f"ControlNet {i}"] = text
    return out


def _value(text: str):
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_unit_text(text: str, where: str = "ControlNet") -> ControlUnit:
    """One entry's value → an enabled unit without an image.

    >>> u = parse_unit_text("Module: canny, Model: m [ab12], Weight: 0.5, Resize Mode: Just Resize, "
    ...                     "Pixel Perfect: True")
    >>> u.module, u.model, u.weight, u.resize_mode.value, u.pixel_perfect
    ('canny', 'm [ab12]', 0.5, 'Just Resize', True)
    """
    fields = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition(": ")
        if not sep:
            raise InvalidInput(where, f"cannot read {item.strip()!r}", '"Key: value" pairs separated by ", "')
        name = "_".join(key.lower().split())
        if name in FIELDS:
            fields[name] = _value(value.strip())
    if "model" in fields:
        fields["model"] = str(fields["model"])
    if "module" in fields:
        fields["module"] = str(fields["module"])
    return unit_from_dict({**fields, "enabled": True}, where)


def units_from_infotext(params: Mapping[str, object]) -> dict[int, ControlUnit]:
    """Parsed infotext params → unit index → unit, for the `ControlNet i` entries (others ignored)."""
    out = {}
    for key, value in params.items():
        match = KEY.match(str(key))
        if match:
            out[int(match.group(1))] = parse_unit_text(str(value), str(key))
    return out
