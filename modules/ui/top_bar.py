"""Quicksettings row, as in A1111's top bar: checkpoint and VAE with refresh, clip skip, any setting the user lists
in `quicksettings_list`."""
from __future__ import annotations

import gradio as gr
from gradio.components import Component

from modules.errors import EaselError
from modules.models.discovery import VAE_AUTOMATIC, VAE_NONE
from modules.ui import model_family, settings_tab
from modules.ui.context import UiContext
from modules.ui.params_panel import native_size
from modules.ui.setting_components import component_for, dynamic_choices, setter

NO_MODEL_HINT = ("No checkpoint found. Put a Stable Diffusion 1.x .safetensors or .ckpt file in "
                 "models/Stable-diffusion/ (in the data dir) and press 🔄.")
DEFAULT_QUICKSETTINGS = ("sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers")


def checkpoint_titles(app, refresh: bool = False) -> list[str]:
    return [c.title for c in app.models.list_checkpoints(refresh=refresh)]


def selected_title(app, titles: list[str]) -> str | None:
    """The listed title of the checkpoint the setting names; None when nothing is selected or its file is gone."""
    wanted = app.options.get("sd_model_checkpoint")
    if not wanted:
        return None
    try:
        title = app.models.find_checkpoint(wanted).title
    except EaselError:
        return None
    return title if title in titles else None


def current_title(app, titles: list[str]) -> str | None:
    """The selected checkpoint's title, or the first listed one (the list says what exists)."""
    return selected_title(app, titles) or (titles[0] if titles else None)


def shown_title(app, titles: list[str]) -> str | None:
    """The title the dropdown shows (`current_title`); when the selected checkpoint's file is gone that is the first
    listed one, and it becomes the setting too, so the next job does not fail on the vanished file again."""
    selected = selected_title(app, titles)
    if selected is not None:
        return selected
    title = titles[0] if titles else None
    wanted = app.options.get("sd_model_checkpoint")
    if title is not None and wanted and title != wanted:
        app.options.set("sd_model_checkpoint", title)
    return title


def model_notice(app, titles: list[str]) -> str:
    """The line under the top bar: how to add a model when there is none, or that the built-in model is in use
    (the first run says so in the UI as well as in the log)."""
    if not titles:
        return NO_MODEL_HINT
    return app.models.builtin_note() or ""


def vae_choices(app, refresh: bool = False) -> list[str]:
    return [VAE_AUTOMATIC, VAE_NONE, *(v.name for v in app.models.list_vaes(refresh=refresh))]


def quicksettings(app) -> list[str]:
    keys = app.options.get("quicksettings_list") if "quicksettings_list" in app.options.table else None
    return [k for k in (keys or DEFAULT_QUICKSETTINGS) if k in app.options.table]


def _checkpoint(ctx: UiContext):
    app = ctx.app
    titles = checkpoint_titles(app)
    checkpoint = gr.Dropdown(titles, value=current_title(app, titles), label="Stable Diffusion checkpoint",
                             info=model_family.family_note(app, current_title(app, titles)) or None,
                             elem_id="setting_sd_model_checkpoint", scale=4, min_width=240)
    refresh = gr.Button("🔄", elem_id="refresh_sd_model_checkpoint", elem_classes=["tool"], scale=0, min_width=40)

    def choose(title):
        if title:
            app.options.set("sd_model_checkpoint", title)

    def do_refresh():
        fresh = checkpoint_titles(app, refresh=True)
        title = shown_title(app, fresh)
        return gr.update(choices=fresh, value=title, info=model_family.family_note(app, title)), \
            model_notice(app, fresh)

    # `input`: the user's own choice only. The page-load refresh and 🔄 also set the value, to the selected model's
    # title (which gains its hash once hashed); a late page-load answer must not undo a choice made meanwhile.
    # (When the selected file is gone, `shown_title` writes the setting itself.)
    checkpoint.input(choose, inputs=checkpoint, outputs=None, queue=False, show_progress="hidden")
    ctx.shared["refresh_checkpoints"] = (do_refresh, checkpoint)
    ctx.after_build.append(lambda: model_family.wire(ctx, checkpoint, native_size(app)))
    ctx.shared.setdefault("quicksettings_fields", []).append(("sd_model_checkpoint", checkpoint))
    return checkpoint, refresh, do_refresh, titles


def _vae(ctx: UiContext):
    app = ctx.app
    choices = vae_choices(app)
    value = app.options.get("sd_vae")
    vae = gr.Dropdown(choices if value in choices else [*choices, value], value=value, label="SD VAE",
                      elem_id="setting_sd_vae", scale=2, min_width=160)
    refresh = gr.Button("🔄", elem_id="refresh_sd_vae", elem_classes=["tool"], scale=0, min_width=40)
    vae.input(setter(app.options, "sd_vae"), inputs=vae, outputs=None, queue=False, show_progress="hidden")
    refresh.click(lambda: gr.update(choices=vae_choices(app, refresh=True)), inputs=None, outputs=vae, queue=False)
    ctx.shared.setdefault("quicksettings_fields", []).append(("sd_vae", vae))


def current_values(ctx: UiContext, fields: list[tuple[str, Component]]) -> list:
    """An update per quicksettings field with the value its setting has now: the page's own values are those of
    start-up, and the API, another page or the Settings tab may have changed them since. A value that has not
    changed since start-up is not sent: a page-load answer arriving late (a busy server) must not undo a choice
    the user made in the meantime, and each value sent fires the field's change event."""
    app, updates = ctx.app, []
    for key, component in fields:
        if key == "sd_model_checkpoint":
            titles = checkpoint_titles(app)
            title = shown_title(app, titles)
            update = gr.update(choices=titles, value=title, info=model_family.family_note(app, title))
        elif key == "sd_vae":
            choices, value = vae_choices(app), app.options.get("sd_vae")
            update = gr.update(choices=choices if value in choices else [*choices, value], value=value)
        else:
            update = settings_tab.current_values(app.options, [key], [component], dynamic_choices(ctx))[0]
        if update.get("value") == component.value:
            del update["value"]
        updates.append(update)
    return updates


def show_current_values(ctx: UiContext, blocks: gr.Blocks) -> None:
    """At every page load the quicksettings show the settings' current values (as the Settings tab's fields do)."""
    fields = ctx.shared.get("quicksettings_fields", [])
    if fields:
        blocks.load(lambda: current_values(ctx, fields), inputs=None, outputs=[c for _, c in fields], queue=False,
                    show_progress="hidden")


def build(ctx: UiContext) -> None:
    app = ctx.app
    notice_text = ""
    with gr.Row(elem_id="quicksettings", equal_height=True):
        for key in quicksettings(app):
            if key == "sd_model_checkpoint":
                checkpoint, refresh, do_refresh, titles = _checkpoint(ctx)
                notice_text = model_notice(app, titles)
            elif key == "sd_vae":
                _vae(ctx)
            else:
                listed = dynamic_choices(ctx).get(key)  # e.g. localization: the files found
                component = component_for(app.options.table[key], app.options.get(key), scale=1, min_width=160,
                                          choices=listed(False) if listed else None)
                component.change(setter(app.options, key), inputs=component, outputs=None, queue=False,
                                 show_progress="hidden")
                ctx.shared[key] = component
                ctx.shared.setdefault("quicksettings_fields", []).append((key, component))
    notice = gr.Markdown(notice_text, elem_id="model_notice")
    if "refresh_checkpoints" in ctx.shared:
        refresh.click(do_refresh, inputs=None, outputs=[checkpoint, notice], queue=False)
