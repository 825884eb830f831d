"""A1111's `modules.infotext_utils` (alias `generation_parameters_copypaste`): parsing infotexts and the registry
of paste fields and "Send to" buttons extensions add to — views onto modules/imaging/infotext."""
from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from modules.imaging.infotext_settings import INFOTEXT_SETTINGS
from modules.extensions.compat import binding
from modules.imaging.infotext import parse_infotext, quote, restore_old_hires_params, unquote  # noqa: F401

paste_fields: dict[str, dict] = {}  # tab name → {"init_img", "fields", "override_settings_component"}
registered_param_bindings: list = []
infotext_to_setting_name_mapping = [(key, setting) for key, setting, _ in INFOTEXT_SETTINGS]


class ParamBinding:
    def __init__(self, paste_button, tabname, source_text_component=None, source_image_component=None,
                 source_tabname=None, override_settings_component=None, paste_field_names=None):
        self.paste_button, self.tabname = paste_button, tabname
        self.source_text_component, self.source_image_component = source_text_component, source_image_component
        self.source_tabname, self.override_settings_component = source_tabname, override_settings_component
        self.paste_field_names = paste_field_names or []


class PasteField(tuple):
    """(component, infotext key or function of the parsed params), with the API field name it fills."""

    def __new__(cls, component, target, *, api=None):
        obj = super().__new__(cls, (component, target))
        obj.api = api
        return obj

    @property
    def component(self):
        return self[0]

    @property
    def target(self):
        return self[1]


def reset() -> None:
    paste_fields.clear()
    registered_param_bindings.clear()


def restore_old_hires_fix_params(res: dict) -> None:
    restore_old_hires_params(res)


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None) -> dict:
    """Every field of an infotext as strings (A1111's keys and fix-ups); old combined sampler names are split into
    Sampler and Schedule type; `skip_fields` are left out."""
    res: dict[str, Any] = parse_infotext(x or "")
    if binding.is_bound() and "Sampler" in res:
        from modules.extensions.compat.sd_samplers import get_sampler_and_scheduler

        res["Sampler"], res["Schedule type"] = get_sampler_and_scheduler(res["Sampler"], res.get("Schedule type"),
                                                                         convert_automatic=False)
    for key in skip_fields or []:
        res.pop(key, None)
    return res


def create_override_settings_dict(text_pairs) -> dict:
    """["Clip skip: 2", …] → {"CLIP_stop_at_last_layers": 2, …} for the settings the infotext names."""
    params = {}
    for pair in text_pairs or []:
        key, _, value = pair.partition(":")
        params[key.strip()] = value.strip()
    return get_override_settings(params)


def get_override_settings(params: dict, *, skip_fields=None) -> dict:
    kinds = {key: kind for key, _, kind in INFOTEXT_SETTINGS}
    out = {}
    for key, setting in infotext_to_setting_name_mapping:
        if key in params and key not in (skip_fields or []):
            try:
                out[setting] = kinds.get(key, str)(float(params[key]) if kinds.get(key) is int else params[key])
            except (TypeError, ValueError):
                continue
    return out


def image_from_url_text(filedata):
    """An image from what a Gradio gallery or image component hands over: a data URL, a file dict, a list."""
    if filedata is None:
        return None
    if isinstance(filedata, list):
        return image_from_url_text(filedata[0]) if filedata else None
    if isinstance(filedata, Image.Image):
        return filedata
    if isinstance(filedata, dict):
        path = filedata.get("path") or filedata.get("name")
        return Image.open(path) if path else image_from_url_text(filedata.get("url") or filedata.get("data"))
    if isinstance(filedata, (tuple,)):
        return image_from_url_text(filedata[0])
    if isinstance(filedata, str) and filedata.startswith("data:image/"):
        filedata = filedata.split(",", 1)[1]
    return Image.open(io.BytesIO(base64.b64decode(filedata)))


def add_paste_fields(tabname: str, init_img, fields, override_settings_component=None) -> None:
    paste_fields[tabname] = {"init_img": init_img, "fields": list(fields or []),
                             "override_settings_component": override_settings_component}


def register_paste_params_button(param_binding: ParamBinding) -> None:
    registered_param_bindings.append(param_binding)


def create_buttons(tabs_list) -> dict:
    import gradio as gr

    return {tab: gr.Button(f"Send to {tab}", elem_id=f"{tab}_tab") for tab in tabs_list}


def bind_buttons(buttons: dict, send_image, send_generate_info) -> None:
    """A1111's older helper: each "Send to" button pastes the image and the infotext into its tab."""
    text_is_tab = isinstance(send_generate_info, str)
    for tabname, button in buttons.items():
        register_paste_params_button(ParamBinding(
            button, tabname, source_text_component=None if text_is_tab else send_generate_info,
            source_image_component=send_image, source_tabname=send_generate_info if text_is_tab else None))


def send_image_and_dimensions(x):
    image = x if isinstance(x, Image.Image) else image_from_url_text(x)
    import gradio as gr

    if image is None:
        return gr.update(), gr.update(), gr.update()
    return image, gr.update(value=image.width), gr.update(value=image.height)


def _typed_update(component, value):
    import gradio as gr

    if value is None:
        return gr.update()
    if isinstance(value, dict) and "__type__" in value:
        return value
    current = getattr(component, "value", None)
    try:
        if isinstance(current, bool):
            value = value if isinstance(value, bool) else str(value).lower() == "true"
        elif isinstance(current, (int, float)) and not isinstance(value, (int, float)):
            value = float(value)
        return gr.update(value=value)
    except (TypeError, ValueError):
        return gr.update()


def connect_paste(button, fields, input_comp, override_settings_component=None, tabname=None) -> None:
    """Clicking `button` parses the infotext in `input_comp` and fills `fields` [(component, key or function)]."""
    from modules.extensions.compat import script_callbacks

    def paste(infotext):
        params = parse_generation_parameters(infotext or "")
        script_callbacks.infotext_pasted_callback(infotext or "", params)
        return [_typed_update(comp, key(params) if callable(key) else params.get(key)) for comp, key in fields]

    button.click(fn=paste, inputs=[input_comp], outputs=[comp for comp, _ in fields], show_progress=False)


def connect_paste_params_buttons() -> None:
    """Wire every registered button to the paste fields of its target tab (called once the UI is built)."""
    for param_binding in registered_param_bindings:
        target = paste_fields.get(param_binding.tabname)
        if target is None:
            continue
        if param_binding.source_image_component is not None and target["init_img"] is not None:
            param_binding.paste_button.click(fn=lambda x: image_from_url_text(x),
                                             inputs=[param_binding.source_image_component],
                                             outputs=[target["init_img"]], show_progress=False)
        fields = [f for f in target["fields"] if not param_binding.paste_field_names
                  or (isinstance(f[1], str) and f[1] in param_binding.paste_field_names)]
        if param_binding.source_text_component is not None and fields:
            connect_paste(param_binding.paste_button, fields, param_binding.source_text_component,
                          target["override_settings_component"], param_binding.tabname)
