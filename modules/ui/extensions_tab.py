"""Extensions: the installed list (enable/disable, check for updates, update, problems), the Available list from
an index URL, and Install from URL. The App's ExtensionManager does the work; this module only shows it.
Installing and updating are refused when the UI is reachable from other machines, unless
--enable-insecure-extension-access (A1111's rule)."""
from __future__ import annotations

import html
import time
from typing import Literal

import gradio as gr

from modules.errors import EaselError
from modules.extensions.index import url_to_load
from modules.extensions.manager import locked  # noqa: F401  (re-exported: the tab's rule, A1111's name)
from modules.ui.context import UiContext

COLUMNS = ("Extension", "URL", "Branch", "Version", "Date", "Update", "Enabled", "Problem")
TYPES: tuple[Literal["str", "bool"], ...] = ("str", "str", "str", "str", "str", "str", "bool", "str")
ENABLED_COL = COLUMNS.index("Enabled")
MODES = [("Enable extensions", "none"), ("Only built-in extensions", "extra"), ("Disable all extensions", "all")]
RESTART_NOTE = ("Restart Easel to load or unload extension scripts, JavaScript and CSS "
                "(stop webui and start it again), then reload this page.")
LOCKED_NOTE = ("Installing and updating extensions is disabled because Easel is reachable from other machines; "
               "start it with --enable-insecure-extension-access to allow it.")


def _date(timestamp: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else ""


def installed_rows(manager, refresh: bool = False) -> list[list]:
    """One row per extension folder, in COLUMNS order (`refresh`: look at the folders again first)."""
    rows = []
    for ext in manager.refresh() if refresh else manager.all():
        url = "built-in" if ext.is_builtin else (ext.remote or "")
        rows.append([ext.name, url, ext.branch or "", ext.version or "", _date(ext.commit_date),
                     ext.update_status or "", bool(ext.enabled), problem_cell(ext.problems)])
    return rows


def problem_cell(problems: list[str]) -> str:
    r"""The Problem column: an install.py failure by its first line (what failed, which package of Easel's it
    would have changed), the rest as recorded; install.py's output stays in the log and the install result.

    >>> problem_cell(["install.py of x failed: it needs transformers 5.23.0\nTraceback ...", "import a.py: Error"])
    'install.py of x failed: it needs transformers 5.23.0\nimport a.py: Error'
    """
    return "\n".join(p.split("\n", 1)[0] if p.startswith("install.py of ") else p for p in problems)


def message(text: str, error: bool = False, detail: str | None = None) -> str:
    """An HTML message for the result areas; `detail` (command output) goes in a <pre>.

    >>> message("a <b>", error=True)
    "<div class='error'>a &lt;b&gt;</div>"
    """
    pre = f"<pre class='extensions-output'>{html.escape(detail)}</pre>" if detail else ""
    css = "error" if error else "extensions-message"
    return f"<div class='{css}'>{html.escape(text)}{pre}</div>"


def outcomes_html(outcomes) -> str:
    """Per extension: what checking or updating answered (errors marked)."""
    if not outcomes:
        return message("No installed (non built-in) extensions to check.")
    items = "".join(f"<li class='{'' if o.ok else 'error'}'><b>{html.escape(o.name)}</b>: {html.escape(o.message)}"
                    f"</li>" for o in outcomes)
    return f"<ul class='extensions-outcomes'>{items}</ul>"


def install_html(result) -> str:
    if result.ok:
        return message(result.message)
    outcome = result.installer
    why = f"its install.py failed (exit code {outcome.returncode})"
    if outcome.conflicts:  # install.py may have caught pip's refusal and exited 0
        why = ("its install.py asked for other versions of Easel's own packages, which were left as they are: "
               + "; ".join(c.describe() for c in outcome.conflicts))
    return message(f"Installed {result.name} into {result.path}, but {why}; the extension is marked with the "
                   f"failure. Output:", error=True, detail=outcome.message.split("\n", 1)[-1])


def available_html(rows) -> str:
    """The index as a table: name (linked), description, tags, whether installed."""
    if not rows:
        return message("The index lists no extensions.")
    body = []
    for entry, installed in rows:
        link = f"<a href='{html.escape(entry.url)}' target='_blank' rel='noreferrer'>{html.escape(entry.name)}</a>"
        state = "installed" if installed else "available"
        body.append(f"<tr class='{state}'><td>{link}</td><td>{html.escape(entry.description)}</td>"
                    f"<td>{html.escape(', '.join(entry.tags))}</td><td>{state}</td></tr>")
    head = "<tr><th>Extension</th><th>Description</th><th>Tags</th><th></th></tr>"
    return f"<table class='extensions-available'>{head}{''.join(body)}</table>"


def apply_choices(manager, rows, mode: str) -> str:
    """Save the Enabled column as the disabled list, and the disable-all mode."""
    names = {e.name for e in manager.all()}
    disabled = [row[0] for row in rows or [] if row and row[0] in names and not bool(row[ENABLED_COL])]
    manager.set_disabled(disabled)
    manager.set_mode(mode)
    off = f"Disabled: {', '.join(disabled)}." if disabled else "All extensions enabled."
    return message(f"Saved. {off} {RESTART_NOTE}")


def build(ctx: UiContext) -> None:
    manager = getattr(ctx.app, "extensions", None)
    if manager is None:
        gr.HTML(message("The extension manager is not part of this App.", error=True))
        return
    is_locked = locked(ctx.app.flags)
    with gr.Tabs(elem_id="tabs_extensions"):
        with gr.Tab("Installed", id="installed", elem_id="extensions_installed_tab"):
            table = _build_installed(ctx, manager, is_locked)
        with gr.Tab("Available", id="available", elem_id="extensions_available_tab"):
            _build_available(manager, table, is_locked)
        with gr.Tab("Install from URL", id="install", elem_id="extensions_install_tab"):
            _build_install(manager, table, is_locked)


def _build_installed(ctx: UiContext, manager, is_locked: bool):
    with gr.Row():
        apply = gr.Button("Apply and restart UI", variant="primary", elem_id="extensions_apply")
        check = gr.Button("Check for updates", elem_id="extensions_check")
        update = gr.Button("Update", elem_id="extensions_update", interactive=not is_locked)
    mode = gr.Radio(MODES, value=manager.mode(), label="Disable extensions", elem_id="extensions_disable_all")
    gr.Markdown(f"Changes here take effect at the next start. {RESTART_NOTE}")
    result = gr.HTML(message(LOCKED_NOTE) if is_locked else "", elem_id="extensions_installed_result")
    table = gr.Dataframe(value=lambda: installed_rows(manager, refresh=True), headers=list(COLUMNS),
                         datatype=list(TYPES), type="array", interactive=True, wrap=True,
                         elem_id="extensions_installed_table",
                         static_columns=[i for i in range(len(COLUMNS)) if i != ENABLED_COL],
                         column_widths=["14%", "24%", "8%", "9%", "12%", "13%", "8%", "12%"],
                         label="Installed extensions (untick Enabled to disable)")

    def do_apply(rows, chosen_mode):
        try:
            text = apply_choices(manager, rows, chosen_mode)
        except EaselError as e:
            text = message(e.message, error=True)
        return text, installed_rows(manager)

    def do_check():
        try:
            return outcomes_html(manager.check_updates()), installed_rows(manager)
        except EaselError as e:
            return message(e.message, error=True), installed_rows(manager)

    def do_update():
        try:
            outcomes = manager.update()
        except EaselError as e:
            return message(e.message, error=True), installed_rows(manager)
        text = outcomes_html(outcomes) if outcomes else message("Nothing to update: check for updates first.")
        return text, installed_rows(manager)

    apply.click(do_apply, inputs=[table, mode], outputs=[result, table])
    check.click(do_check, outputs=[result, table])
    update.click(do_update, outputs=[result, table])
    return table


def _install(manager, url, branch=None, folder=None) -> str:
    try:
        return install_html(manager.install(url, branch or None, folder or None))
    except EaselError as e:
        return message(e.message, error=True)


def _build_available(manager, table, is_locked: bool) -> None:
    with gr.Row():
        index_url = gr.Textbox(value=manager.index_url(), label="Extension index URL", scale=4,
                               elem_id="extensions_index_url", interactive=not is_locked)
        load = gr.Button("Load from:", elem_id="extensions_load_available", scale=1)
    with gr.Row():
        choice = gr.Dropdown([], label="Extension to install", elem_id="extensions_available_choice", scale=4,
                             interactive=not is_locked)
        install = gr.Button("Install", variant="primary", elem_id="extensions_available_install", scale=1,
                            interactive=not is_locked)
    result = gr.HTML(elem_id="extensions_available_result")
    listing = gr.HTML(elem_id="extensions_available_html")

    def do_load(url):
        try:
            rows = manager.available(url_to_load(url, manager.index_url(), is_locked))
        except EaselError as e:
            return message(e.message, error=True), "", gr.Dropdown(choices=[], value=None)
        choices = [(f"{entry.name} ({entry.url})", entry.url) for entry, installed in rows if not installed]
        note = message(f"{len(rows)} extensions listed, {len(choices)} not installed.")
        return note, available_html(rows), gr.Dropdown(choices=choices, value=None)

    def do_install(url):
        if not url:
            return message("Choose an extension from the list first (Load from: the index).", error=True), \
                installed_rows(manager)
        return _install(manager, url), installed_rows(manager)

    load.click(do_load, inputs=index_url, outputs=[result, listing, choice])
    install.click(do_install, inputs=choice, outputs=[result, table])


def _build_install(manager, table, is_locked: bool) -> None:
    url = gr.Textbox(label="URL for extension's git repository", elem_id="extensions_install_url",
                     placeholder="https://github.com/… or file:///path/to/repo", interactive=not is_locked)
    with gr.Row():
        branch = gr.Textbox(label="Specific branch name (empty for the default)", elem_id="extensions_install_branch",
                            interactive=not is_locked)
        folder = gr.Textbox(label="Local directory name (empty for the repository's name)",
                            elem_id="extensions_install_dirname", interactive=not is_locked)
    install = gr.Button("Install", variant="primary", elem_id="extensions_install_button",
                        interactive=not is_locked)
    result = gr.HTML(message(LOCKED_NOTE) if is_locked else "", elem_id="extensions_install_result")

    def do_install(address, wanted_branch, wanted_folder):
        return _install(manager, address, wanted_branch, wanted_folder), installed_rows(manager)

    install.click(do_install, inputs=[url, branch, folder], outputs=[result, table])
