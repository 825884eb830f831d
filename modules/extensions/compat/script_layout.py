"""Scripts' UI components as A1111 lays them out: one flat `inputs` list per tab (index 0: the Script dropdown),
each script owning the slice [args_from, args_to). Built in the real page, or off-screen for the API alone."""
from __future__ import annotations

import os
from typing import Any

from modules.extensions.compat import scripts
from modules.extensions.compat.reporting import extension_of, guarded

NONE = "None"


def _controls(script) -> list:
    controls = guarded(extension_of(script.filename), f"{scripts._title(script)}.ui", script.ui, script.is_img2img)
    if controls is None:
        return []
    if isinstance(controls, dict):
        controls = list(controls.values())
    return list(controls) if isinstance(controls, (list, tuple)) else [controls]


def _add_script(runner, script, inputs: list) -> None:
    script.args_from = len(inputs)
    script.args_to = len(inputs)
    controls = _controls(script)
    script.controls = controls
    script.name = scripts._title(script).lower()
    for control in controls:
        control.custom_script_source = os.path.basename(script.filename or "")
    if script.infotext_fields is not None:
        runner.infotext_fields += list(script.infotext_fields)
    if script.paste_field_names is not None:
        runner.paste_field_names += list(script.paste_field_names)
    inputs += controls
    script.args_to = len(inputs)


def build_section(runner, tab: str) -> ScriptSection:
    """Inside the caller's Gradio layout: always-on scripts' panels, then the Script dropdown and the selected
    script's panel (A1111's setup_ui)."""
    import gradio as gr

    runner.infotext_fields, runner.paste_field_names = [], []
    inputs: list[Any] = [None]
    for script in runner.alwayson_scripts:
        with gr.Group(elem_id=f"{tab}_script_{_slug(script)}"):
            _add_script(runner, script, inputs)
    choices = [NONE, *runner.titles]
    dropdown = gr.Dropdown(label="Script", choices=choices, value=NONE,
                           elem_id="script_list" if tab == "txt2img" else f"{tab}_script_list")
    inputs[0] = dropdown
    groups = []
    # in the page but not shown until chosen, as Gradio 3's visible=False was: scripts look their elements up at load
    for script in runner.selectable_scripts:
        with gr.Group(visible="hidden", elem_id=f"{tab}_script_{_slug(script)}") as group:
            _add_script(runner, script, inputs)
        groups.append(group)

    def show(title):
        return [gr.update(visible=True if title == t else "hidden") for t in runner.titles]

    if groups:
        dropdown.change(show, inputs=dropdown, outputs=groups, show_progress="hidden")
    return ScriptSection(runner, inputs)


def _slug(script) -> str:
    return "".join(c if c.isalnum() else "_" for c in scripts._title(script).lower())


def layout_offscreen(runner) -> list:
    """Lay out and return the default args when no page was built (--nowebui, tests); the UI is thrown away."""
    if not runner.scripts:
        return [0]
    if all(s.args_from is not None for s in runner.scripts):
        return defaults(runner)
    import gradio as gr

    with gr.Blocks(analytics_enabled=False):
        section = build_section(runner, "img2img" if runner.is_img2img else "txt2img")
    return section.defaults()


def defaults(runner) -> list:
    """A1111's default script args (what an API request gets for a script it does not name): each control's value.
    A `gr.State` made with a callable keeps it in Gradio 6 (called at each page load), where Gradio 3 called it once
    to make the value: here it is called, so a script gets its object, not the class (sd-webui-animatediff)."""
    import gradio as gr

    size = max([s.args_to for s in runner.scripts if s.args_to is not None], default=1)
    args: list[Any] = [None] * size
    args[0] = 0
    for script in runner.scripts:
        for i, control in enumerate(script.controls or []):
            value = getattr(control, "value", None)
            args[script.args_from + i] = value() if isinstance(control, gr.State) and callable(value) else value
    return args


def describe_args(script) -> list[dict]:
    """A1111's ScriptArg rows: label, value, minimum, maximum, step, choices."""
    rows = []
    for control in script.controls or []:
        row = {"label": getattr(control, "label", None) or ""}
        for key in ("value", "minimum", "maximum", "step"):
            value = getattr(control, key, None)
            if isinstance(value, (str, int, float, bool, list)) or value is None:
                row[key] = value
        choices = getattr(control, "choices", None)
        if choices is not None:
            row["choices"] = [c[0] if isinstance(c, tuple) else c for c in choices]
        rows.append(row)
    return rows


class ScriptSection:
    """What the page needs from a tab's scripts: the inputs to send, and how their values become request fields."""

    def __init__(self, runner, inputs: list):
        self.runner, self.inputs = runner, inputs

    def defaults(self) -> list:
        return defaults(self.runner)

    def request_fields(self, values: list) -> dict:
        """Values of `inputs` (same order) → script_name, script_args, alwayson_scripts of the request."""
        runner = self.runner
        title = values[0] if values and values[0] not in (None, NONE, 0) else None
        if isinstance(title, int):
            title = runner.titles[title - 1]
        fields: dict[str, Any] = {"script_name": title, "script_args": (), "alwayson_scripts": {}}
        if title:
            script = runner.find(title)
            fields["script_args"] = tuple(values[script.args_from:script.args_to])
        fields["alwayson_scripts"] = {scripts._title(s): {"args": list(values[s.args_from:s.args_to])}
                                      for s in runner.alwayson_scripts}
        return fields
