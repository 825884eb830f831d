"""The Gradio page: top bar and tabs, the browser files, and the fields the browser keeps over a reload.
modules/ui is the only core package that imports gradio."""
from __future__ import annotations

import contextlib

import gradio as gr
import gradio.routes as gradio_routes
from gradio.blocks import BlockContext

from modules.prompts.styles import StyleDatabase
from modules.ui import (assets, browser_state, extensions_tab, extras_tab, footer, gradio_page_fixes,
                        gradio_page_template, img2img_tab, localization, outpaint_tab, pnginfo_tab, send_to,
                        settings_tab, top_bar, txt2img_tab)
from modules.ui.components import TabsAsColumn
from modules.ui.context import UiConfig, UiContext

# System fonts only: no font file is fetched from anywhere, not even from this server.
SANS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Default(font=SANS, font_mono=MONO, primary_hue="orange", radius_size="sm")


def build_ui(app) -> gr.Blocks:
    styles = getattr(app.services, "styles", None) or StyleDatabase(app.paths.styles_csv)  # one owner: the App's
    ctx = UiContext(app=app, ui_config=UiConfig(app.paths.ui_config_json), styles=styles,
                    localizations=localization.Localizations.for_app(app))
    host = getattr(app, "scripts", None)
    if host is not None:
        host.before_ui()
    extra_tabs = host.extra_tabs() if host is not None else []  # built outside the page's Blocks, as in A1111
    with gr.Blocks(title="Easel", analytics_enabled=False) as blocks:
        top_bar.build(ctx)
        # wrap, as A1111's tab bar does: with extension tabs, a menu would hide some of them at 800 px
        everything = everything_at_load(app)
        with gr.Tabs(elem_id="tabs", overflow_behavior="wrap",
                     elem_classes=["easel-everything-at-load"] if everything else None) as tabs:
            ctx.shared["tabs"] = tabs
            with gr.Tab("txt2img", id="txt2img", elem_id="tab_txt2img"), building(host, "txt2img"):
                txt2img_tab.build(ctx)
            # javascript/easel.js mounts img2img at load: A1111 scripts look up #img2img_prompt & co. then
            with gr.Tab("img2img", id="img2img", elem_id="tab_img2img"), building(host, "img2img"):
                img2img_tab.build(ctx)
            with gr.Tab("Outpaint", id="outpaint", elem_id="tab_outpaint"):
                outpaint_tab.build(ctx)
            with gr.Tab("Extras", id="extras", elem_id="tab_extras"):
                extras_tab.build(ctx)
            with gr.Tab("PNG Info", id="pnginfo", elem_id="tab_pnginfo"):
                pnginfo_tab.build(ctx)
            extension_tabs(extra_tabs)
            with gr.Tab("Settings", id="settings", elem_id="tab_settings"):
                settings_tab.build(ctx)
            with gr.Tab("Extensions", id="extensions", elem_id="tab_extensions"):
                extensions_tab.build(ctx)
        gr.HTML(footer.versions_html(app.services.version), elem_id="footer")
        send_to.wire(ctx)
        for wiring in ctx.after_build:
            wiring()
        browser_state.wire(ctx, blocks)
        settings_tab.show_current_values(ctx, blocks)
        top_bar.show_current_values(ctx, blocks)
        if everything:
            contents_at_load(blocks)
    blocks.easel_context = ctx  # for tests and extensions that need to find a tab's fields
    return blocks


def everything_at_load(app) -> bool:
    """Whether the page holds every tab's and closed accordion's contents at load, as A1111's did: only when an
    extension of the user's is enabled (their scripts look elements up then); it costs about twice the browser's
    work before the page can be used (docs/a1111-compat.md)."""
    manager = getattr(app, "extensions", None)
    return manager is not None and any(not ext.is_builtin for ext in manager.enabled())


def contents_at_load(blocks: gr.Blocks) -> None:
    """Closed accordions keep their contents in the page, as A1111's Gradio 3 did: extensions' scripts look up the
    elements inside them when the page loads. Gradio's page leaves a closed accordion's contents out until it is
    opened only when `open` is exactly false; 0 shows the accordion closed all the same (javascript/easel.js shows
    each tab once at load for the same reason; docs/a1111-compat.md)."""
    for block in blocks.blocks.values():
        if isinstance(block, gr.Accordion) and block.open is False:
            block.open = 0  # type: ignore[assignment]  # Gradio types it bool; its page reads 0 as closed, rendered
        elif isinstance(block, gr.Tabs) and not any(isinstance(child, gr.Tab) for child in block.children):
            # Gradio 3 drew a Tabs holding no Tab as a plain column (embedding-inspector's tab has one); Gradio's
            # page fails on it ("initial_tabs is not iterable"), which, rendered at load, would stop the page
            block.__class__ = TabsAsColumn
        elif isinstance(block, gr.Tabs):
            strays_beside(block, blocks)


def strays_beside(tabs: gr.Tabs, page: gr.Blocks) -> None:
    """Gradio 3 let a Tabs hold other components beside its tabs (the images browser keeps a hidden Textbox there);
    Gradio's page then draws the wrong tab under a button and never draws one of them. They move just after the
    Tabs, into the layout block of the page that holds it (an extension tab's own Blocks only lent it its
    children), where they sit in the page as before."""
    strays = [child for child in tabs.children if not isinstance(child, gr.Tab)]
    if not strays:
        return
    holders = [b for b in page.blocks.values()
               if isinstance(b, BlockContext) and not isinstance(b, gr.Blocks) and tabs in b.children]
    parent: BlockContext | None = holders[0] if holders else page if tabs in page.children else None
    if parent is None:
        return
    tabs.children = [child for child in tabs.children if isinstance(child, gr.Tab)]
    at = parent.children.index(tabs) + 1
    parent.children[at:at] = strays
    for child in strays:
        child.parent = parent


def building(host, tab: str):
    """While `tab` is built, the host's scripts see each component created (A1111's before/after_component)."""
    return host.building(tab) if host is not None else contextlib.nullcontext()


def extension_tabs(tabs: list) -> None:
    """Tabs extensions add (on_ui_tabs), each rendered from its own Blocks, before Settings as in A1111."""
    for blocks, title, *rest in tabs:
        elem_id = rest[0] if rest else title.lower().replace(" ", "_")
        # shown once at load (javascript/easel.js), as every A1111 tab was in the page from the start
        with gr.Tab(title, id=elem_id, elem_id=f"tab_{elem_id}"):
            blocks.render()


def mount_kwargs(app, server, localizations=None) -> dict:
    """What gr.mount_gradio_app needs besides the blocks: theme, the <head> with our scripts and styles, led by the
    chosen localization's data (the page's own scripts and the extensions' may read it)."""
    table = assets.asset_table(app.paths, disabled_extensions=app.flags.disable_all_extensions,
                               extensions=getattr(app, "extensions", None),
                               allowed=getattr(app.flags, "gradio_allowed_path", None) or ())
    assets.mount(server, table)
    localization.mount(server, localizations or localization.Localizations.for_app(app), app.options)
    head = localization.head_tag() + "\n" + assets.head_html(table)
    host = getattr(app, "scripts", None)
    # the theme extensions were handed (A1111's shared.gradio_theme) carries the CSS variables they set on it
    page_theme = host.page_theme() if host is not None and hasattr(host, "page_theme") else None
    return {"theme": page_theme or theme(), "head": head, "ssr_mode": False, "footer_links": ["settings"]}


def mount_extra_networks(server, app, ctx: UiContext) -> None:
    """The Extra Networks browser's routes (thumbnails, metadata, one card) over the pages this page shows."""
    from modules.ui import extra_networks, extra_networks_routes

    extra_networks_routes.mount(server, lambda: extra_networks.pages(ctx),
                                lambda: extra_networks.view_settings(app.options),
                                lambda: str(app.options.get("samples_format") or "png"))


def mount_ui(server, app):
    """Build the page and mount it at / on the FastAPI `server` (with --gradio-auth when given); returns the app."""
    from modules.cli import parse_credentials

    auth = parse_credentials(app.flags.gradio_auth) if app.flags.gradio_auth else None
    blocks = build_ui(app)
    server.state.easel_blocks = blocks  # on_app_started(demo, app) hands it to extensions
    mount_extra_networks(server, app, blocks.easel_context)
    gradio_page_fixes.mount(server)
    gradio_page_template.install(gradio_routes.templates)
    return gr.mount_gradio_app(server, blocks, path="/", auth=auth,
                               **mount_kwargs(app, server, blocks.easel_context.localizations))
