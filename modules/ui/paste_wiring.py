"""Filling a tab's fields from an infotext: the ↙ button, a PNG dropped on the prompt, and "Send to"."""
from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from modules.errors import EaselError
from modules.imaging.infotext_settings import override_pairs
from modules.imaging.paste_rules import PasteRules, paste_params
from modules.imaging.metadata import read_image_metadata
from modules.ui.context import UiContext
from modules.ui.paste import checkpoint_title_finder, fields_from_params, refiner_values, registry_sampler_resolver

CLIP_SKIP = "CLIP_stop_at_last_layers"
OVERRIDES = "override_settings"


def paste_targets(ctx: UiContext, tab: str) -> tuple[list[str], list]:
    """(field names, components) a paste may change on `tab`: its fields plus the top bar's clip skip."""
    fields = dict(ctx.tab_fields(tab))
    if CLIP_SKIP in ctx.shared:
        fields[CLIP_SKIP] = ctx.shared[CLIP_SKIP]
    return list(fields), list(fields.values())


def extra_targets(ctx: UiContext, tab: str) -> list:
    """Scripts' own paste fields: (component, infotext key or `params -> value`) pairs."""
    return list(ctx.shared.get(f"{tab}_paste_extra") or [])


def extra_updates(pairs: list, params: dict[str, object]) -> list:
    """A script's paste function may return a value or, as A1111's own scripts do (X/Y/Z plot), an update: an
    update is passed on as it is, never wrapped as the value of another."""
    updates = []
    for _, key in pairs:
        try:
            value = key(params) if callable(key) else params.get(key)
        except Exception:  # noqa: BLE001 - a script's paste function must not break pasting
            value = None
        if isinstance(value, dict) and value.get("__type__") == "update":
            updates.append(value)
        else:
            updates.append(gr.update(value=value) if value is not None else gr.update())
    return updates


def updates_for(ctx: UiContext, names: list[str], infotext: str | None, pairs: Sequence = ()) -> list:
    """One update per target: the pasted value where the infotext has one, else unchanged."""
    if not infotext or not infotext.strip():
        return [gr.update() for _ in [*names, *pairs]]
    params = paste_params(infotext, PasteRules.from_options(ctx.app.options), ctx.styles)
    host = getattr(ctx.app, "scripts", None)
    if host is not None:
        host.infotext_pasted(infotext, params)  # extensions may add or change keys (on_infotext_pasted)
    values = fields_from_params(params, registry_sampler_resolver(ctx.app.services.samplers))
    if "Styles array" in params:
        values["styles"] = list(params["Styles array"])
    if "subseed" in values or "subseed_strength" in values:
        values["seed_extras"] = values.get("subseed_strength", 0) > 0 or values.get("seed_resize_from_w", 0) > 0
    values = refiner_values(params, values, checkpoint_title_finder(ctx.app.models))
    updates = [gr.update(value=values[name]) if name in values else gr.update() for name in names]
    if OVERRIDES in names:  # settings the infotext holds that no field shows (A1111's Override settings box)
        found = override_pairs(params, ctx.app.options.snapshot(), handled=[n for n in names if n != OVERRIDES])
        updates[names.index(OVERRIDES)] = gr.update(value=found, choices=found, visible=bool(found))
    return [*updates, *extra_updates(list(pairs), params)]


def infotext_of_image(data: bytes | None) -> str | None:
    if not data:
        return None
    text, _ = read_image_metadata(bytes(data))
    return text


def wire(ctx: UiContext, tab: str, row, generation_info) -> None:
    """↙ pastes the prompt box's infotext (or, with an empty box, the last generation's); a dropped PNG pastes
    its own parameters."""
    names, targets = paste_targets(ctx, tab)
    pairs = extra_targets(ctx, tab)
    targets = [*targets, *(component for component, _ in pairs)]

    def paste(text, info):
        if not (text or "").strip():
            text = ((info or {}).get("infotexts") or [""])[0]
        return updates_for(ctx, names, text, pairs)

    def dropped(data):
        try:
            text = infotext_of_image(data)
        except EaselError as e:
            raise gr.Error(f"dropped file: {e.message}", print_exception=False) from None
        if not text:
            gr.Warning("That image carries no generation parameters")
        return [*updates_for(ctx, names, text, pairs), None]

    row.paste.click(paste, inputs=[row.prompt, generation_info], outputs=targets, queue=False,
                    show_progress="hidden")
    row.png_drop.upload(dropped, inputs=row.png_drop, outputs=[*targets, row.png_drop], queue=False,
                        show_progress="hidden")
