"""Settings → Workers: where jobs run (this process, or each Ray worker: docs/cluster.md), what each holds and
runs, and how many jobs wait."""
from __future__ import annotations

import html

import gradio as gr

from modules.ui.context import UiContext


def workers_html(workers: list[dict], queued: int) -> str:
    """The workers as a table.

    >>> workers_html([{"name": "local", "device": "cpu", "model": None, "running": None}], 1).count("<td>")
    6
    """
    head = "<tr><th>Worker</th><th>Device</th><th>Loaded model</th><th>Running job</th><th>Threads</th>" \
           "<th>Model loads</th></tr>"
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(worker.get(key) if worker.get(key) is not None else '–'))}</td>"
                         for key in ("name", "device", "model", "running", "threads", "loads")) + "</tr>"
        for worker in workers)
    waiting = f"{queued} job{'s' if queued != 1 else ''} waiting."
    return f"<p>{waiting}</p><table class='easel-workers'>{head}{rows}</table>"


def build(ctx: UiContext) -> None:
    queue = ctx.app.jobs

    def render() -> str:
        status = queue.workers_status()
        return workers_html(status["workers"], status["queued"])

    table = gr.HTML(render(), elem_id="settings_workers_table")
    refresh = gr.Button("Refresh", elem_id="settings_workers_refresh")
    refresh.click(render, outputs=table)
