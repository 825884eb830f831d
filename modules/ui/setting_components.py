"""One Gradio component per settings-table row, shared by the Settings tab and the quicksettings bar."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from modules.options.table import Setting

SLIDER_MAX_SPAN = 10_000  # rows bounded on both sides with a smaller span are sliders, others number boxes


def component_for(setting: Setting, value: Any, elem_id: str | None = None, choices: list | None = None, **kw):
    """The control A1111 users expect for a row: checkbox, dropdown, slider, number or text box."""
    elem_id = elem_id or f"setting_{setting.key}"
    label = setting.label + (" (requires restart)" if setting.restart else
                             " (requires Reload UI)" if setting.reload else "")
    choices = choices if choices is not None else (list(setting.choices) if setting.choices else None)
    if setting.kind is bool:
        return gr.Checkbox(value=bool(value), label=label, elem_id=elem_id, **kw)
    if choices is not None:
        multi = isinstance(value, (list, tuple))
        value = list(value) if multi else value
        if not multi and value not in choices:
            choices = [*choices, value]
        if setting.widget == "radio" and not multi:
            return gr.Radio(choices=choices, value=value, label=label, elem_id=elem_id, **kw)
        return gr.Dropdown(choices=choices, value=value, label=label, elem_id=elem_id, multiselect=multi,
                           allow_custom_value=False, **kw)
    if setting.kind in (int, float):
        low, high = setting.minimum, setting.maximum
        if low is not None and high is not None and high - low <= SLIDER_MAX_SPAN:
            step = 1 if setting.kind is int else 0.01
            return gr.Slider(low, high, value=value, step=step, label=label, elem_id=elem_id, **kw)
        return gr.Number(value=value, label=label, elem_id=elem_id, precision=0 if setting.kind is int else None,
                         minimum=setting.minimum, maximum=setting.maximum, **kw)
    if setting.kind in (list, tuple):
        return gr.Dropdown(choices=list(value or []), value=list(value or []), label=label, elem_id=elem_id,
                           multiselect=True, allow_custom_value=True, **kw)
    return gr.Textbox(value="" if value is None else str(value), label=label, elem_id=elem_id, **kw)


def dynamic_choices(ctx) -> dict[str, Callable[[bool], list[str]]]:
    """Rows whose choices are files found on disk: key → choices(refresh), with a 🔄 button (A1111's refresh=)."""
    return {"localization": ctx.localizations.choices} if ctx.localizations is not None else {}


def typed(setting: Setting, value: Any) -> Any:
    """A component's value back in the row's type (sliders and numbers hand floats to int rows).

    >>> from modules.options.table import Setting
    >>> typed(Setting("n", 1, "N", "S", int), 3.0), typed(Setting("x", 1.0, "X", "S", float), 2)
    (3, 2.0)
    """
    if value is None:
        return setting.default
    if setting.kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if setting.kind in (list, tuple):
        return setting.kind(value)
    return value


def same_value(a: Any, b: Any) -> bool:
    """Equal, counting a list read back from config.json as the tuple it was saved from.

    >>> same_value(("a", "b"), ["a", "b"]), same_value(1, 1.0), same_value("x", "y")
    (True, True, False)
    """
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def setter(options, key: str) -> Callable[[Any], Any]:
    """A change handler that stores one setting, showing the reason when the value is refused."""
    from modules.errors import EaselError

    def store(value):
        try:
            options.set(key, typed(options.table[key], value))
        except EaselError as e:
            raise gr.Error(e.message, print_exception=False) from None

    return store
