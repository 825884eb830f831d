"""The checkpoint dropdown's family line and the size sliders that follow the model's native size.

The dropdown's entries stay A1111's checkpoint titles, as the visible text too: extensions read
`#setting_sd_model_checkpoint input`'s value as a title (sd-webui-agent-scheduler queues jobs with it). The family
is shown in the dropdown's info line instead ("SDXL · native 1024×1024"), read from the file's header without
loading it (`ModelManager.family_of`). Choosing a model of another native size moves txt2img's and img2img's
width/height to it where they still hold the previous model's native size; sizes the user set stay.
"""
from __future__ import annotations

import gradio as gr

from modules.errors import EaselError
from modules.ui.context import UiContext

SIZE_TABS = ("txt2img", "img2img")


def family_note(app, title: str | None) -> str:
    """The info line of the checkpoint dropdown for the checkpoint `title`: its family and native size."""
    if not title:
        return ""
    try:
        models = app.models
        family = models.family_of(models.find_checkpoint(title))
        size = models.native_size(title)
    except EaselError:
        return ""
    label = family.label if family is not None else "family known once loaded"  # a .ckpt is not read before
    return f"{label} · native {size}×{size}"


def native_size_of(app, title: str | None) -> int | None:
    """The native size of the checkpoint `title` (None when it cannot be told: a vanished file, no models)."""
    try:
        return app.models.native_size(title or None)
    except EaselError:
        return None


def switched_size(width: int, height: int, old: int | None, new: int | None) -> tuple[int, int]:
    """Width and height once a model of native size `new` replaces one of `old`: the new native size where both
    still hold the old one (the user never changed them), else as they are.

    >>> switched_size(512, 512, 512, 1024), switched_size(640, 512, 512, 1024), switched_size(64, 64, None, 512)
    ((1024, 1024), (640, 512), (64, 64))
    """
    if old is None or new is None or (width, height) != (old, old):
        return width, height
    return new, new


def wire(ctx: UiContext, checkpoint: gr.Dropdown, initial_size: int | None) -> None:
    """After every tab exists: choosing a checkpoint updates the dropdown's info line and the size sliders.

    The native size the sliders were last set for is kept per page (a State), so this handler does not depend on
    the order in which it and the one that stores the setting run."""
    app = ctx.app
    sliders = [ctx.fields[tab][name] for tab in SIZE_TABS if {"width", "height"} <= set(ctx.fields.get(tab, {}))
               for name in ("width", "height")]  # pairs: width, height of each tab
    shown_for = gr.State(initial_size)

    def chosen(title, old, *sizes):
        new = native_size_of(app, title)
        values = []
        for width, height in zip(sizes[::2], sizes[1::2]):
            values += switched_size(width, height, old, new)
        moved = [gr.update(value=v) if v != s else gr.update() for v, s in zip(values, sizes)]
        return [gr.update(info=family_note(app, title)), new if new is not None else old, *moved]

    checkpoint.input(chosen, inputs=[checkpoint, shown_for, *sliders], outputs=[checkpoint, shown_for, *sliders],
                     queue=False, show_progress="hidden")
