"""Settings: every row of the settings table, grouped in its section; Apply writes config.json.
The Defaults sub-tab writes the current values of the UI fields to ui-config.json (A1111's ui-config keys)."""
from __future__ import annotations

import html
from collections.abc import Callable

import gradio as gr

from modules.errors import EaselError
from modules.ui import workers_panel
from modules.ui.context import UiContext
from modules.ui.setting_components import component_for, dynamic_choices, same_value, typed


def sections(table, hidden: Callable[[str], bool] = lambda key: False) -> dict[str, list]:
    """Rows grouped by section, in table order; hidden rows (changed elsewhere, e.g. the Extensions tab) and those
    `hidden(key)` says (the folder settings under --hide-ui-dir-config) left out.

    >>> from modules.options.table import SETTINGS
    >>> list(sections({s.key: s for s in SETTINGS}))[0]
    'Saving images'
    >>> any(s.key == "disabled_extensions" for rows in sections({s.key: s for s in SETTINGS}).values() for s in rows)
    False
    """
    grouped: dict[str, list] = {}
    for setting in table.values():
        if not setting.hidden and not hidden(setting.key):
            grouped.setdefault(setting.section, []).append(setting)
    return grouped


def apply_changes(options, keys: list[str], values) -> str:
    """Store the values; the message names what changed (and what needs a restart)."""
    changes = {key: typed(options.table[key], value) for key, value in zip(keys, values)}
    changes = {key: value for key, value in changes.items() if not same_value(value, options.get(key))}
    changed = options.update(changes)
    if not changed:
        return "Nothing changed."
    restart = [k for k in changed if options.table[k].restart]
    reload = [k for k in changed if options.table[k].reload]
    text = f"{len(changed)} setting{'s' if len(changed) != 1 else ''} changed: {', '.join(changed)}."
    text += f" Restart Easel for {', '.join(restart)}." if restart else ""
    return text + (f" Press Reload UI for {', '.join(reload)}." if reload else "")


def build(ctx: UiContext) -> None:
    options = ctx.app.options
    keys, components = [], []
    listed = dynamic_choices(ctx)
    with gr.Row(elem_id="settings_top"):
        apply = gr.Button("Apply settings", variant="primary", elem_id="settings_submit")
        reload_ui = gr.Button("Reload UI", elem_id="settings_restart_gradio")
    result = gr.HTML(elem_id="settings_result")
    with gr.Tabs(elem_id="settings", overflow_behavior="wrap"):  # every section reachable, as in A1111
        for section, rows in sections(options.table, options.frozen.hidden).items():
            with gr.Tab(section, elem_id=f"settings_{section.lower().replace(' ', '_')}"):
                for setting in rows:
                    if setting.key == "sd_model_checkpoint":
                        continue  # chosen in the top bar, from the list of files
                    keys.append(setting.key)
                    if setting.key in listed:
                        components.append(_listed_row(setting, options.get(setting.key), listed[setting.key]))
                        continue
                    keys_as_choices = list(options.table) if setting.kind in (list, tuple) else None
                    components.append(component_for(setting, options.get(setting.key), choices=keys_as_choices))
        with gr.Tab("Defaults", elem_id="settings_tab_defaults"):
            _build_defaults(ctx)
        with gr.Tab("Workers", elem_id="settings_tab_workers"):
            workers_panel.build(ctx)

    def submit(*values):
        try:
            return f"<div class='settings-result'>{html.escape(apply_changes(options, keys, values))}</div>"
        except EaselError as e:
            raise gr.Error(e.message, print_exception=False) from None

    # the page's `opts` follow, and onOptionsChanged callbacks run, as in A1111 after Apply
    apply.click(submit, inputs=components, outputs=result).then(None, js="() => { easelLoadOptions(); }")
    reload_ui.click(None, js="() => { location.reload(); }")
    ctx.shared["settings_fields"] = (keys, components)


def current_values(options, keys: list[str], components: list, listed: dict) -> list:
    """An update per field with the value the setting has now (and a dropdown's current choices): the API, the
    quicksettings or another page may have changed it since the page was built, and Apply must not write an old
    value back (a localization chosen, the page reloaded, then any other setting applied)."""
    updates = []
    for key, component in zip(keys, components):
        value = options.get(key)
        value = list(value) if isinstance(value, tuple) else value
        if isinstance(component, gr.Textbox):
            value = "" if value is None else str(value)
        update = {"value": value}
        if isinstance(component, gr.Dropdown) and not component.multiselect:
            choices = listed[key](False) if key in listed else [c[1] for c in component.choices]
            update["choices"] = choices if value in choices else [*choices, value]
        updates.append(gr.update(**update))
    return updates


def show_current_values(ctx: UiContext, blocks: gr.Blocks) -> None:
    """At every page load the Settings fields show config.json's values (the page's own are those of start-up)."""
    keys, components = ctx.shared.get("settings_fields", ([], []))
    if components:
        listed = dynamic_choices(ctx)
        blocks.load(lambda: current_values(ctx.app.options, keys, components, listed), inputs=None,
                    outputs=components, queue=False, show_progress="hidden")


def _listed_row(setting, value, choices):
    """A dropdown of files found on disk with A1111's 🔄 (`refresh_<key>`) that lists them again; the localization
    row also gets A1111's button that downloads the page's texts as a template for a new localization."""
    with gr.Row(equal_height=True, elem_id=f"settings_row_{setting.key}"):
        dropdown = component_for(setting, value, choices=choices(False), scale=4)
        refresh = gr.Button("🔄", elem_id=f"refresh_{setting.key}", elem_classes=["tool"], scale=0, min_width=40)
        refresh.click(lambda: gr.update(choices=choices(True)), inputs=None, outputs=dropdown, queue=False)
        if setting.key == "localization":
            template = gr.Button("Download localization template", elem_id="download_localization", scale=1)
            template.click(None, js="() => { download_localization(); }")
    return dropdown


def _build_defaults(ctx: UiContext) -> None:
    gr.Markdown("Saves the current values of the txt2img and img2img fields as the values the page starts with "
                "(`ui-config.json`).")
    with gr.Row():
        view = gr.Button("View changes", elem_id="ui_defaults_view")
        save = gr.Button("Apply", variant="primary", elem_id="ui_defaults_apply")
    report = gr.HTML(elem_id="ui_defaults_review")
    keys = list(ctx.keys)  # filled by the tabs built before Settings

    def changes(values) -> dict:
        return {key: value for key, value, comp in zip(keys, values, ctx.keys.values())
                if value != getattr(comp, "value", None)}

    def show(*values):
        found = changes(values)
        if not found:
            return "No changes."
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(repr(v))}</td></tr>" for k, v in found.items())
        return f"<table class='defaults-review'><tr><th>Field</th><th>New default</th></tr>{rows}</table>"

    def store(*values):
        found = changes(values)
        ctx.ui_config.save(found)
        return f"{len(found)} default{'s' if len(found) != 1 else ''} written to ui-config.json."

    components = list(ctx.keys.values())
    view.click(show, inputs=components, outputs=report)
    save.click(store, inputs=components, outputs=report)
