"""Extensions: the installed extension folders, enable/disable, install from URL (the extensions manager, when
the App has one, does the work; A1111 locks installing when the UI is reachable from other machines)."""
from __future__ import annotations

import html

import gradio as gr

from modules.errors import EaselError
from modules.ui.assets import extension_roots
from modules.ui.context import UiContext

DISABLED_KEY = "disabled_extensions"


def installed(ctx: UiContext) -> list[tuple[str, str]]:
    """(name, where) of every extension folder: built-in or user-installed."""
    paths = ctx.app.paths
    rows = []
    for root in extension_roots(paths):
        where = "built-in" if root.parent == paths.builtin_extensions_dir else "installed"
        rows.append((root.name, where))
    return rows


def locked(flags) -> bool:
    """A1111: installing is refused when others can reach the UI, unless explicitly allowed."""
    exposed = bool(flags.listen or flags.share or flags.server_name)
    return exposed and not flags.enable_insecure_extension_access


def table_html(rows: list[tuple[str, str]], disabled: set[str]) -> str:
    """
    >>> "<td>x</td><td>built-in</td><td>enabled</td>" in table_html([("x", "built-in")], set())
    True
    """
    if not rows:
        return "<p>No extensions installed. Put one in the <code>extensions/</code> folder or install it below.</p>"
    body = "".join(f"<tr><td>{html.escape(n)}</td><td>{w}</td><td>{'disabled' if n in disabled else 'enabled'}</td>"
                   f"</tr>" for n, w in rows)
    return f"<table class='pnginfo-params'><tr><th>Extension</th><th>Where</th><th>State</th></tr>{body}</table>"


def _disabled(options) -> set[str]:
    return set(options.get(DISABLED_KEY) or []) if DISABLED_KEY in options.table else set()


def build(ctx: UiContext) -> None:
    options, rows = ctx.app.options, installed(ctx)
    names = [n for n, _ in rows]
    with gr.Tabs(elem_id="tabs_extensions"):
        with gr.Tab("Installed", id="installed", elem_id="extensions_installed_tab"):
            listing = gr.HTML(table_html(rows, _disabled(options)), elem_id="extensions_installed_html")
            enabled = gr.CheckboxGroup(names, value=[n for n in names if n not in _disabled(options)],
                                       label="Enabled extensions", elem_id="extensions_enabled")
            apply = gr.Button("Apply and restart UI", variant="primary", elem_id="extensions_apply",
                              interactive=DISABLED_KEY in options.table)
        with gr.Tab("Install from URL", id="install", elem_id="extensions_install_tab"):
            url = gr.Textbox(label="URL for extension's git repository", elem_id="extensions_install_url",
                             interactive=not locked(ctx.app.flags))
            install = gr.Button("Install", variant="primary", elem_id="extensions_install_button",
                                interactive=not locked(ctx.app.flags))
            result = gr.HTML("<p>Installing is disabled because Easel is reachable from other machines; start it "
                             "with --enable-insecure-extension-access to allow it.</p>" if locked(ctx.app.flags)
                             else "", elem_id="extensions_install_result")

    def save(chosen):
        try:
            options.set(DISABLED_KEY, [n for n in names if n not in (chosen or [])])
        except EaselError as e:
            raise gr.Error(e.message, print_exception=False) from None
        return table_html(rows, _disabled(options))

    def do_install(address):
        manager = getattr(ctx.app, "extensions", None)
        if locked(ctx.app.flags):
            return "<div class='error'>Installing extensions is disabled on a UI reachable from other machines.</div>"
        if manager is None or not hasattr(manager, "install"):
            return "<div class='error'>The extensions manager is not part of this version of Easel yet.</div>"
        try:
            name = manager.install(address)
        except EaselError as e:
            return f"<div class='error'>{html.escape(e.message)}</div>"
        return f"<p>Installed {html.escape(str(name))}. Restart Easel to load it.</p>"

    apply.click(save, inputs=enabled, outputs=listing).then(None, js="() => { location.reload(); }")
    install.click(do_install, inputs=url, outputs=result)
