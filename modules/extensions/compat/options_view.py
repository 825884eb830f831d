"""A1111's `shared.opts`, `OptionInfo`, `options_section` and `options_templates` as views onto `App.options`.

An extension's option becomes a row of the settings table: the Settings tab shows it, config.json keeps it.
"""
from __future__ import annotations

import sys
from typing import Any

from modules.extensions.compat import binding
from modules.extensions.compat.a1111_defaults import A1111_DEFAULTS
from modules.options.table import Setting

DEFAULT_SECTION = "Uncategorized"


class OptionInfo:
    """A1111's option description; `section` is (id, label) as `options_section` sets it."""

    def __init__(self, default=None, label="", component=None, component_args=None, onchange=None, section=None,
                 refresh=None, comment_before="", comment_after="", infotext=None, restrict_api=False,
                 category_id=None):
        self.default, self.label, self.component = default, label, component
        self.component_args, self.onchange, self.section, self.refresh = component_args, onchange, section, refresh
        self.comment_before, self.comment_after, self.infotext = comment_before, comment_after, infotext
        self.restrict_api, self.category_id = restrict_api, category_id
        self.do_not_save = False
        self.reload_ui = self.restart = False

    def link(self, label, url):
        self.comment_before += f"[<a href='{url}' target='_blank'>{label}</a>]"
        return self

    def js(self, label, js_func):
        return self

    def info(self, info):
        self.comment_after += f"<span class='info'>({info})</span>"
        return self

    def html(self, html):
        self.comment_after += html
        return self

    def needs_restart(self):
        self.restart = True
        return self

    def needs_reload_ui(self):
        self.reload_ui = True
        return self


class OptionHTML(OptionInfo):
    def __init__(self, text):
        super().__init__(str(text).strip(), label="", component=None)
        self.do_not_save = True


def options_section(section_identifier, options_dict: dict) -> dict:
    for value in options_dict.values():
        value.section = section_identifier
    return options_dict


def _choices(args) -> tuple | None:
    args = args() if callable(args) else (args or {})
    choices = args.get("choices") if isinstance(args, dict) else None
    choices = choices() if callable(choices) else choices
    if not choices:
        return None
    return tuple(c[1] if isinstance(c, tuple) else c for c in choices)


def _widget(component) -> str | None:
    """"radio" for an option built with gr.Radio: A1111's Settings tab showed radio buttons, and extensions' scripts
    read the chosen one (`label.selected`). Gradio is loaded already when an extension hands its classes."""
    radio = getattr(sys.modules.get("gradio"), "Radio", None)
    return "radio" if isinstance(component, type) and radio is not None and issubclass(component, radio) else None


def setting_of(key: str, info: OptionInfo) -> Setting:
    """The settings-table row for an extension's option."""
    section = info.section[1] if isinstance(info.section, tuple) and len(info.section) > 1 else info.section
    default = info.default
    kind = type(default) if isinstance(default, (bool, int, float, str, list, tuple)) else object
    args = info.component_args() if callable(info.component_args) else (info.component_args or {})
    step = args.get("step") if isinstance(args, dict) else None
    if kind is int and isinstance(step, float) and not step.is_integer():
        kind = float
    minimum = args.get("minimum") if isinstance(args, dict) else None
    maximum = args.get("maximum") if isinstance(args, dict) else None
    choices = _choices(info.component_args) if kind is str else None
    if choices is not None and default not in choices:
        choices = None  # free text after all (A1111 lets such dropdowns hold other values)
    return Setting(key, default, info.label or key, section or DEFAULT_SECTION, kind, choices,
                   minimum if kind in (int, float) else None, maximum if kind in (int, float) else None,
                   restart=info.restart, reload=info.reload_ui,
                   widget=_widget(info.component) if choices is not None else None)


class Templates(dict):
    """`shared.options_templates`: adding to it registers the options (old extensions update it directly)."""

    def __setitem__(self, key, info):
        super().__setitem__(key, info)
        if binding.is_bound() and isinstance(info, OptionInfo) and not info.do_not_save:
            binding.app().options.add(setting_of(key, info))

    def update(self, other=(), **kwargs):
        for key, info in dict(other, **kwargs).items():
            self[key] = info


options_templates = Templates()


A1111_SECTION = "A1111 compatibility"


def a1111_row(key: str) -> Setting:
    """A hidden settings row for an A1111 setting Easel's table lacks, so extensions and API clients may read and
    store it (e.g. the common `opts.outdir_samples or opts.outdir_txt2img_samples`)."""
    default = A1111_DEFAULTS[key]
    kind = type(default) if isinstance(default, (bool, int, float, str)) else object
    return Setting(key, default, key, A1111_SECTION, kind, hidden=True)


def register_a1111_rows(options) -> None:
    """Every A1111 1.10 setting Easel's table lacks becomes a hidden row of `options` (at start-up)."""
    for key in A1111_DEFAULTS:
        if key not in options.table:
            options.add(a1111_row(key))


class OptionsView:
    """`shared.opts`: attribute access to the App's settings, and A1111's methods."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        overridden = binding.overrides()
        if overridden is not None and key in overridden:
            return overridden[key]
        options = binding.app().options
        if key in options.table:
            return options.get(key)
        if key in options_templates:
            return options_templates[key].default
        if key in A1111_DEFAULTS:
            return A1111_DEFAULTS[key]
        raise AttributeError(f"no setting named {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def set(self, key: str, value: Any, is_api: bool = False, run_callbacks: bool = True) -> bool:
        options = binding.app().options
        if key not in options.table and key in A1111_DEFAULTS:  # an A1111 setting Easel lacks: kept, not shown
            options.add(a1111_row(key))
        return options.set(key, value)

    def get_default(self, key: str) -> Any:
        table = binding.app().options.table
        return table[key].default if key in table else A1111_DEFAULTS.get(key)

    def add_option(self, key: str, info: OptionInfo) -> None:
        options_templates[key] = info
        if info.onchange is not None:
            self.onchange(key, info.onchange, call=False)

    def onchange(self, key: str, func, call: bool = True) -> None:
        binding.app().options.onchange(key, func)
        if call:
            func()

    def save(self, filename=None) -> None:
        binding.app().options.save()

    def same_type(self, x, y) -> bool:
        return x is None or y is None or type(x) is type(y)

    def cast_value(self, key: str, value: Any) -> Any:
        """`value` in the type of the setting's default ("False" is False for a switch); None when either is."""
        if value is None:
            return None
        default = self.get_default(key)
        if default is None:
            default = getattr(self, key, None)
        if default is None:
            return None
        if isinstance(default, bool) and value == "False":
            return False
        return type(default)(value)

    def dumpjson(self) -> str:
        import json

        return json.dumps(self.data, default=str)

    @property
    def data(self) -> dict:
        return binding.app().options.data()

    @property
    def data_labels(self) -> dict:
        """Every option as an OptionInfo: the extensions' own, and the core's rows."""
        labels = {key: OptionInfo(s.default, s.label, section=(s.section, s.section))
                  for key, s in binding.app().options.table.items()}
        labels.update(options_templates)
        return labels

    def __contains__(self, key: str) -> bool:
        return key in binding.app().options.table
