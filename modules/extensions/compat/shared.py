"""A1111's `modules.shared` (and `modules.shared_state`): views onto the App, read when used."""
from __future__ import annotations

import sys
from typing import Any

from modules.extensions.compat import binding
from modules.extensions.compat.options_view import (OptionHTML, OptionInfo, OptionsView,  # noqa: F401
                                                     options_section, options_templates)
from modules.extensions.compat.state import StateView

opts = OptionsView()
state = StateView()
demo = None  # the Gradio Blocks once built (set by the UI binding)
parser = None  # argparse parser (preload adds flags to it)
hide_dirs: dict = {}
styles_filename = ["styles.csv"]
natural_sort_key = None
cmd_opts_defaults: dict[str, Any] = {}


class FlagsView:
    """`shared.cmd_opts`: Easel's parsed flags; an A1111 flag Easel lacks or left unset reads as A1111's default
    (its folders under Easel's data and models dirs, compat/cmd_defaults.py); any other name is an AttributeError,
    as on A1111's argparse namespace."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        flags = binding.app().flags if binding.is_bound() else None
        value = getattr(flags, key, None) if flags is not None else None
        if value is not None:
            return value
        if key in cmd_opts_defaults:
            return cmd_opts_defaults[key]
        from modules.extensions.compat import cmd_defaults, paths_internal

        if not cmd_defaults.is_a1111_flag(key) and (flags is None or not hasattr(flags, key)):
            # as argparse's Namespace: `getattr(cmd_opts, "other_extensions_flag", default)` gets the default
            raise AttributeError(f"no command-line flag {key!r}")
        return cmd_defaults.default(key, paths_internal.current_paths())

    def __setattr__(self, key: str, value: Any) -> None:
        setattr(binding.app().flags, key, value)


cmd_opts = FlagsView()


def _sd_model():
    from modules.extensions.compat.sd_model_view import current_model_view

    return current_model_view()


def _face_restorers():
    from modules.extensions.compat.face_view import face_restorer_list

    return face_restorer_list()


def _shared_item(name: str):
    """A1111's shared.py re-exports some shared_items functions under the same names."""
    from modules.extensions.compat import shared_items

    return getattr(shared_items, name)


def _upscalers():
    from modules.extensions.compat.upscaler_view import upscaler_list

    return upscaler_list()


_DYNAMIC = {
    "list_checkpoint_tiles": lambda: _shared_item("list_checkpoint_tiles"),
    "refresh_checkpoints": lambda: _shared_item("refresh_checkpoints"),
    "sd_model": _sd_model,
    "sd_upscalers": _upscalers,
    "device": lambda: binding.app().services.models.device_config.device,
    "prompt_styles": lambda: binding.app().services.styles,
    "data_path": lambda: str(binding.app().paths.data_dir),
    "models_path": lambda: str(binding.app().paths.models_dir),
    "script_path": lambda: str(binding.app().paths.install_dir),
    "weight_load_location": lambda: None,
    "hypernetworks": dict,
    "loaded_hypernetworks": list,
    "face_restorers": lambda: _face_restorers(),
    "interrogator": lambda: None,
    "xformers_available": lambda: False,
    "listfiles": lambda: _listfiles,
    "walk_files": lambda: _walk_files,
    "mem_mon": lambda: _mem_mon(),
    "config_filename": lambda: str(binding.app().paths.config_json),
    "gradio_theme": lambda: _gradio_theme(),
    "batch_cond_uncond": lambda: True,  # A1111's opts.batch_cond_uncond default: cond and uncond in one batch
    "latent_upscale_default_mode": lambda: "Latent",
    "latent_upscale_modes": lambda: _latent_upscale_modes(),
}


_theme: dict = {}


def _gradio_theme():
    """A1111's `shared.gradio_theme`: a theme object extensions may set CSS variables on (one per process); the page
    is then built with it (ScriptHost.page_theme, modules/ui/layout.py), so the variables reach the page."""
    if "theme" not in _theme:
        from modules.ui.layout import theme

        _theme["theme"] = theme()
    return _theme["theme"]


def used_gradio_theme():
    """The theme handed out as `shared.gradio_theme`, or None when no extension asked for it."""
    return _theme.get("theme")


def _mem_mon():
    from modules.extensions.compat.memmon import MemUsageMonitor

    return MemUsageMonitor("MemMon", _DYNAMIC["device"](), opts)


def _latent_upscale_modes() -> dict:
    """A1111's hires-fix latent modes: name → {mode, antialias} (the names Easel's upscaler list shows)."""
    return {"Latent": {"mode": "bilinear", "antialias": False},
            "Latent (antialiased)": {"mode": "bilinear", "antialias": True},
            "Latent (bicubic)": {"mode": "bicubic", "antialias": False},
            "Latent (bicubic antialiased)": {"mode": "bicubic", "antialias": True},
            "Latent (nearest)": {"mode": "nearest", "antialias": False},
            "Latent (nearest-exact)": {"mode": "nearest-exact", "antialias": False}}


def _listfiles(dirname):
    import os

    return [os.path.join(dirname, x) for x in sorted(os.listdir(dirname)) if not x.startswith(".")]


def _walk_files(path, allowed_extensions=None):
    import os

    for root, _, files in os.walk(path, followlinks=True):
        for filename in sorted(files):
            if allowed_extensions is None or os.path.splitext(filename)[1].lower() in allowed_extensions:
                yield os.path.join(root, filename)


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.shared' has no attribute {name!r}")


def reload_gradio_theme(theme_name=None) -> None:
    return None


State = StateView


def _total_tqdm():
    from modules.extensions.compat.shared_total_tqdm import TotalTQDM

    return TotalTQDM()


total_tqdm = _total_tqdm()
sys.modules.setdefault("modules.shared_state", sys.modules[__name__])
