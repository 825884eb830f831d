"""Infotext → UI field values: what the ↙ paste button, a PNG dropped on the prompt and "Send to" fill in.

Field names are the request's A1111 names (`steps`, `cfg_scale`, …); the table maps infotext keys onto them as
A1111's `infotext_utils` paste fields do. Pure functions: the tabs turn the result into component updates.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, SupportsFloat

from modules.imaging.infotext_fields import INFOTEXT_FIELDS

# (infotext key, field name, converter): the shared table, plus clip skip, which the UI shows in its top bar.
PASTE_FIELDS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    *INFOTEXT_FIELDS, ("Clip skip", "CLIP_stop_at_last_layers", int))


def _number(convert: Callable[..., Any], value: object) -> Any:
    """`value` (the infotext's text, or a fill-in number) through `convert`; `int` also accepts "20.0" (some writers
    add a decimal point); anything unreadable is None."""
    try:
        if convert is int and isinstance(value, (str, SupportsFloat)):
            return int(float(value))
        return convert(value)
    except (TypeError, ValueError):
        return None


def fields_from_params(params: Mapping[str, object], resolve_sampler: Callable[[str], tuple[str, str | None]] | None
                       = None) -> dict[str, Any]:
    """Parsed infotext (`parse_infotext`) → {field name: typed value} for the fields it names.

    `resolve_sampler(name)` → (sampler name, scheduler label or None) splits old combined names such as
    "DPM++ 2M Karras"; without it the sampler text is used as it is.

    >>> fields_from_params({"Prompt": "a cat", "Steps": "20", "Size-1": "512", "Size-2": "768", "CFG scale": "7"})
    {'prompt': 'a cat', 'steps': 20, 'cfg_scale': 7.0, 'width': 512, 'height': 768}
    >>> split = lambda name: ("DPM++ 2M", "Karras")
    >>> fields_from_params({"Sampler": "DPM++ 2M Karras", "Schedule type": "Automatic"}, split)
    {'sampler_name': 'DPM++ 2M', 'scheduler': 'Karras'}
    >>> fields_from_params({"Steps": "lots"})
    {}
    """
    values: dict[str, Any] = {}
    for key, name, convert in PASTE_FIELDS:
        if key not in params:
            continue
        value = _number(convert, params[key]) if convert is not str else params[key]
        if value is not None:
            values[name] = value
    sampler = values.get("sampler_name")
    if sampler and resolve_sampler is not None:
        name, scheduler = resolve_sampler(sampler)
        values["sampler_name"] = name
        if scheduler and values.get("scheduler", "Automatic") == "Automatic":
            values["scheduler"] = scheduler
    if values.get("hr_resize_x") == 0 and values.get("hr_resize_y") == 0:
        values.pop("hr_resize_x"), values.pop("hr_resize_y")
    return values


def refiner_values(params: Mapping[str, object], values: dict[str, Any],
                   find_title: Callable[[str], str | None]) -> dict[str, Any]:
    """A1111's Refiner paste fields: the accordion's box follows whether the infotext names a refiner, and
    `Refiner: name [hash]` becomes the title of the checkpoint it names (`find_title`; left out when none does).

    >>> titles = {"xl_refiner [7440042bbd]": "sd/xl_refiner.safetensors [7440042bbd]"}
    >>> refiner_values({"Refiner": "xl_refiner [7440042bbd]"}, {"refiner_checkpoint": "xl_refiner [7440042bbd]",
    ...                "refiner_switch_at": 0.8}, titles.get)
    {'refiner_switch_at': 0.8, 'refiner_checkpoint': 'sd/xl_refiner.safetensors [7440042bbd]', 'refiner_enable': True}
    >>> refiner_values({}, {"steps": 20}, titles.get)
    {'steps': 20, 'refiner_enable': False}
    >>> refiner_values({"Refiner": "gone [0123456789]"}, {"refiner_checkpoint": "gone [0123456789]"}, titles.get)
    {'refiner_enable': True}
    """
    values = dict(values)
    name = values.pop("refiner_checkpoint", None)
    title = find_title(name) if name else None
    if title:
        values["refiner_checkpoint"] = title
    values["refiner_enable"] = "Refiner" in params
    return values


def checkpoint_title_finder(models) -> Callable[[str], str | None]:
    """A `find_title` for refiner_values backed by the model manager (names, titles, short hashes)."""
    from modules.errors import EaselError

    def find(name: str) -> str | None:
        try:
            return models.find_checkpoint(name).title
        except EaselError:
            return None

    return find


def registry_sampler_resolver(registry) -> Callable[[str], tuple[str, str | None]]:
    """A `resolve_sampler` for fields_from_params backed by the sampler registry (unknown names pass through)."""
    from modules.errors import EaselError

    def resolve(name: str) -> tuple[str, str | None]:
        try:
            spec, scheduler = registry.resolve_sampler(name)
        except EaselError:
            return name, None
        return spec.name, scheduler.label if scheduler else None

    return resolve
