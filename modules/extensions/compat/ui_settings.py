"""A1111's `modules.ui_settings`: `create_setting_component(key)`, the control of one setting as the Settings tab
draws it (Easel's modules/ui/setting_components.py), which extensions place in their own panels (e.g. a checkpoint
dropdown). The component is not tied to the stored setting: the extension decides what its value does, as in
A1111. The Settings tab itself is Easel's page builder's."""
from __future__ import annotations

from modules.extensions.compat import binding
from modules.extensions.compat.absent import _UI


def _choices(key: str) -> list | None:
    """The choices the setting offers now: files found on disk for the model rows, an extension's own list."""
    from modules.extensions.compat import shared_items
    from modules.extensions.compat.options_view import _choices as listed, options_templates

    if key == "sd_model_checkpoint":
        return shared_items.list_checkpoint_tiles()
    if key == "sd_vae":
        return shared_items.sd_vae_items()
    info = options_templates.get(key)
    found = listed(info.component_args) if info is not None and info.component_args else None
    return list(found) if found is not None else None


def create_setting_component(key: str, is_quicksettings: bool = False):
    """A Gradio component for setting `key` showing its current value (elem_id "setting_<key>")."""
    from modules.ui.setting_components import component_for

    options = binding.app().options
    if key not in options.table:
        raise KeyError(f"unknown setting {key!r}")
    return component_for(options.table[key], options.get(key), elem_id=f"setting_{key}", choices=_choices(key))


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no modules.ui_settings.{name}: {_UI} (docs/a1111-compat.md)")
