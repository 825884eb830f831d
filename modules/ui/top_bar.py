"""Quicksettings row: checkpoint selection with refresh, as in A1111's top bar."""
from __future__ import annotations

import gradio as gr

from modules.errors import EaselError

NO_MODEL_HINT = ("No checkpoint found. Put a Stable Diffusion 1.x .safetensors or .ckpt file in "
                 "models/Stable-diffusion/ (in the data dir) and press 🔄.")


def checkpoint_titles(app, refresh: bool = False) -> list[str]:
    return [c.title for c in app.models.list_checkpoints(refresh=refresh)]


def current_title(app, titles: list[str]) -> str | None:
    wanted = app.options.get("sd_model_checkpoint")
    if wanted:
        try:
            return app.models.find_checkpoint(wanted).title
        except EaselError:
            pass
    return titles[0] if titles else None


def build(app) -> None:
    titles = checkpoint_titles(app)
    with gr.Row(elem_id="quicksettings"):
        checkpoint = gr.Dropdown(titles, value=current_title(app, titles), label="Stable Diffusion checkpoint",
                                 elem_id="setting_sd_model_checkpoint", scale=4)
        refresh = gr.Button("🔄", elem_id="refresh_sd_model_checkpoint", scale=0, min_width=40)
    notice = gr.Markdown(NO_MODEL_HINT if not titles else "", elem_id="model_notice")

    def choose(title):
        if title:
            app.options.set("sd_model_checkpoint", title)
        return gr.update()

    def do_refresh():
        fresh = checkpoint_titles(app, refresh=True)
        return gr.update(choices=fresh, value=current_title(app, fresh)), (NO_MODEL_HINT if not fresh else "")

    checkpoint.change(choose, inputs=checkpoint, outputs=None)
    refresh.click(do_refresh, inputs=None, outputs=[checkpoint, notice])
