"""The Extra Networks browser on txt2img and img2img, as A1111 lays it out: tabs beside "Generation" (Textual
Inversion, Hypernetworks, Checkpoints, Lora, then pages extensions register), each a pane of cards. Clicking a card
adds its text to the prompt or removes it (javascript/extra-networks.js); a checkpoint card switches the model.

The page ids are A1111's (`txt2img_extra_tabs`, `txt2img_lora`, `txt2img_lora_cards`, `txt2img_lora_extra_search`,
the hidden `txt2img_extra_refresh` / `txt2img_lora_extra_refresh_internal` buttons, `change_checkpoint`):
extensions and users' CSS select on them (docs/ui.md).
"""
from __future__ import annotations

import contextlib
import logging

import gradio as gr

from modules.errors import EaselError
from modules.ui.context import UiContext
from modules.ui.extra_networks_cards import ViewSettings, no_cards_html
from modules.ui.extra_networks_pages import builtin_pages, in_preferred_order, unique_pages

log = logging.getLogger(__name__)


def view_settings(options) -> ViewSettings:
    """The card settings as they are now (Settings → Extra Networks)."""
    return ViewSettings.from_options(options.get)


def pages(ctx: UiContext) -> list:
    """Every page of the browser, made once per page build: Easel's, then the extensions' (A1111's order), sorted by
    `ui_extra_networks_tab_reorder`."""
    if "extra_network_pages" not in ctx.shared:
        host = getattr(ctx.app, "scripts", None)
        extension_pages = host.extra_network_pages() if host is not None and hasattr(host, "extra_network_pages") \
            else []
        found, dropped = unique_pages([*builtin_pages(ctx.app), *extension_pages])
        for page in dropped:
            log.warning("extra networks: a second page named %r is left out (one tab per name)", page.title)
        order = ctx.app.options.get("ui_extra_networks_tab_reorder")
        ctx.shared["extra_network_pages"] = in_preferred_order(found, order)
    return ctx.shared["extra_network_pages"]


def pane_of(page, tab: str, view: ViewSettings) -> str:
    """A page's pane; a page that fails (an extension's) shows the failure instead of breaking the tab."""
    try:
        return page.html(tab, view)
    except EaselError as e:
        message = e.message
    except Exception as e:  # an extension page's own code
        log.exception("extra networks page %s failed", page.title)
        message = f"{type(e).__name__}: {e}"
    return no_cards_html([], f"{page.title}: {message}")


@contextlib.contextmanager
def tabs(tab: str, ctx: UiContext):
    """`with tabs(TAB, ctx):` around the tab's settings row puts it in the "Generation" tab, followed by a tab per
    extra-network page and the hidden refresh buttons."""
    with gr.Tabs(elem_id=f"{tab}_extra_tabs", elem_classes=["extra-networks"]):
        with gr.Tab("Generation", id=f"{tab}_generation", elem_id=f"{tab}_generation_tab"):
            yield
        panes = _page_tabs(tab, ctx)
    _refresh_buttons(tab, ctx, panes)
    if "change_checkpoint" not in ctx.shared:
        ctx.shared["change_checkpoint"] = True
        ctx.after_build.append(lambda: wire_checkpoint_button(ctx))


def _page_tabs(tab: str, ctx: UiContext) -> list:
    view = view_settings(ctx.app.options)
    panes = []
    for page in pages(ctx):
        with gr.Tab(page.title, id=f"{tab}_{page.page}", elem_id=f"{tab}_{page.page}", elem_classes=["extra-page"]):
            gr.Column(elem_id=f"{tab}_{page.page}_prompts", elem_classes=["extra-page-prompts"])
            panes.append(gr.HTML(pane_of(page, tab, view), elem_id=f"{tab}_{page.page}_cards_html",
                                 js_on_load=None, padding=False))
    return panes


def refreshed(ctx: UiContext, tab: str) -> list[str]:
    """Every page of the tab re-reads its folders (A1111's refresh re-lists them all)."""
    view = view_settings(ctx.app.options)
    fresh = []
    for page in pages(ctx):
        try:
            page.refresh()
        except Exception:  # an extension page's refresh: its pane says what went wrong when listed
            log.exception("extra networks page %s: refresh failed", page.title)
        fresh.append(pane_of(page, tab, view))
    return fresh


def _refresh_buttons(tab: str, ctx: UiContext, panes: list) -> None:
    """A1111 1.10's hidden `<tab>_<page>_extra_refresh_internal` per page and older releases' `<tab>_extra_refresh`;
    the panes' refresh icons click them, extensions listen to them."""
    ids = [f"{tab}_extra_refresh", *(f"{tab}_{page.page}_extra_refresh_internal" for page in pages(ctx))]
    with gr.Row(visible="hidden", elem_id=f"{tab}_extra_networks_buttons"):
        for elem_id in ids:
            button = gr.Button("Refresh", elem_id=elem_id, visible="hidden")
            button.click(lambda: refreshed(ctx, tab), inputs=None, outputs=panes, queue=False,
                         show_progress="hidden").then(None, js=f"() => extraNetworksRefreshed('{tab}')")


def wire_checkpoint_button(ctx: UiContext) -> None:
    """A1111's hidden `#change_checkpoint`: `selectCheckpoint(title)` (a checkpoint card) sets
    `desiredCheckpointName` and clicks it; the setting changes and the top bar's dropdown shows the choice."""
    button = gr.Button("Change checkpoint", elem_id="change_checkpoint", visible="hidden")
    name = gr.Textbox(visible="hidden", elem_id="change_checkpoint_name")
    dropdown = ctx.shared["refresh_checkpoints"][1] if "refresh_checkpoints" in ctx.shared else None

    def change(title: str):
        update = choose_checkpoint(ctx, title)
        return update if dropdown is not None else None

    button.click(change, inputs=[name], outputs=[dropdown] if dropdown is not None else [], queue=False,
                 show_progress="hidden",
                 js="(v) => { const n = desiredCheckpointName; desiredCheckpointName = null; return [n || v || '']; }")


def choose_checkpoint(ctx: UiContext, title: str):
    """Make the checkpoint named `title` the model; an unknown one is the user's to see, not a traceback."""
    from modules.ui.top_bar import checkpoint_titles

    app = ctx.app
    if not title:
        return gr.update()
    try:
        info = app.models.find_checkpoint(title)
    except EaselError as e:
        raise gr.Error(e.message, print_exception=False) from None
    app.options.set("sd_model_checkpoint", info.title)
    return gr.update(choices=checkpoint_titles(app), value=info.title)
