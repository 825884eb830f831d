"""The output column of a generating tab: gallery (PNG, so the `parameters` chunk survives), progress, infotext,
Send to…, open folder; and the generator that runs a job and streams progress into it."""
from __future__ import annotations

import functools
import html
import logging
import time
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from modules.errors import EaselError
from modules.pipeline.job import Job
from modules.ui.components import TitledButton
from modules.ui.context import UiContext
from modules.ui.progress import progress_html, run_with_progress

log = logging.getLogger(__name__)
SEND_TARGETS = (("img2img", "Send to img2img"), ("inpaint", "Send to inpaint"), ("extras", "Send to extras"))


@dataclass
class Results:
    gallery: Any
    progress: Any
    info: Any
    log: Any
    generation_info: Any  # gr.State: the last result's `info` dict (+ "selected": gallery index)
    send: dict[str, Any]


def infotext_html(text: str) -> str:
    return f"<p class='infotext'>{html.escape(text).replace(chr(10), '<br>')}</p>" if text else ""


def error_html(message: str) -> str:
    return f"<div class='error'>{html.escape(message)}</div>"


def build(tab: str, ctx: UiContext, kind: str, generation_info=None) -> Results:
    """`kind`: the outputs folder setting's middle part (txt2img, img2img, extras)."""
    with gr.Column(elem_id=f"{tab}_results", elem_classes=["results"]):
        progress = gr.HTML("", elem_id=f"{tab}_progress", elem_classes=["progress-area"])
        # A1111's ids around the gallery and its buttons: themes move them (sd-webui-lobe-theme's split previewer)
        with gr.Column(elem_id=f"{tab}_results_panel"), gr.Group(elem_id=f"{tab}_gallery_container"):
            gallery = gr.Gallery(label="Output", show_label=False, format="png", elem_id=f"{tab}_gallery",
                                 columns=2, height=480, object_fit="contain", preview=True, interactive=False,
                                 buttons=["download", "fullscreen"])  # no "share": nothing to share it with locally
        save_folder = ctx.app.options.get("outdir_save")
        with gr.Row(elem_id=f"image_buttons_{tab}", elem_classes=["image-buttons"]):
            folder = gr.Button("📂", elem_id=f"{tab}_open_folder", elem_classes=["tool"], scale=0, min_width=40)
            save = TitledButton("💾", elem_id=f"save_{tab}", elem_classes=["tool"], scale=0, min_width=40,
                                tooltip=f"Save the image to a dedicated directory ({save_folder}).")
            save_zip = TitledButton("🗃️", elem_id=f"save_zip_{tab}", elem_classes=["tool"], scale=0, min_width=40,
                                    tooltip=f"Save zip archive with images to a dedicated directory ({save_folder})")
            send = {target: gr.Button(label, elem_id=f"{tab}_send_to_{target}", min_width=60)
                    for target, label in SEND_TARGETS if target != tab}
        downloads = gr.File(None, file_count="multiple", interactive=False, show_label=False, visible=False,
                            elem_id=f"download_files_{tab}")
        generation_info = generation_info if generation_info is not None else gr.State({})
        info = gr.HTML("", elem_id=f"html_info_{tab}", elem_classes=["infotext-box"])
        log_box = gr.HTML("", elem_id=f"html_log_{tab}")
    gallery.select(_remember_selection, inputs=generation_info, outputs=[generation_info, info], queue=False,
                   show_progress="hidden")
    # A1111's hidden button that scripts press to show the selected image's infotext (Config-Presets looks it up)
    info_button = gr.Button(visible="hidden", elem_id=f"{tab}_generation_info_button")
    info_button.click(_selected_infotext, inputs=generation_info, outputs=info, queue=False, show_progress="hidden")
    folder.click(lambda: open_folder(ctx, kind), inputs=None, outputs=log_box, queue=False)
    for button, make_zip in ((save, False), (save_zip, True)):
        button.click(functools.partial(press_save, ctx, make_zip=make_zip), inputs=[gallery, generation_info],
                     outputs=[downloads, log_box], show_progress="hidden")
    return Results(gallery, progress, info, log_box, generation_info, send)


def press_save(ctx: UiContext, gallery, info: dict, make_zip: bool):
    """💾 / 🗃️: the selected image (or all shown) to `outdir_save` with a log.csv row; the files to download."""
    from modules.imaging.save_button import SaveSettings, save_files
    from modules.imaging.saving import jpeg_copy_setting

    opts, info = ctx.app.options, info or {}
    settings = SaveSettings(folder=ctx.app.paths.data_dir / opts.get("outdir_save"), fmt=opts.get("samples_format"),
                            selected_only=bool(opts.get("save_selected_only")),
                            write_csv=bool(opts.get("save_write_log_csv")),
                            by_date=bool(opts.get("use_save_to_dirs_for_ui")),
                            zip_pattern=opts.get("grid_zip_filename_pattern"), jpeg_copy=jpeg_copy_setting(opts))
    images = gallery_images(gallery)
    texts = list(info.get("infotexts") or [image.info.get("parameters", "") for image in images])
    try:
        saved = save_files(ctx.app.services.saver, images, texts, info, int(info.get("selected", 0)), settings,
                           make_zip)
    except EaselError as e:
        return gr.update(), error_html(e.message)
    return gr.update(value=[str(p) for p in saved.paths], visible=True), infotext_html(saved.message)


def time_taken_html(seconds: float) -> str:
    """A1111's performance line under the results.

    >>> time_taken_html(75.25)  # doctest: +NORMALIZE_WHITESPACE
    "<div class='performance'><p class='time'>Time taken:
    <wbr><span class='measurement'>1 min. 15.2 sec.</span></p></div>"
    """
    minutes, rest = divmod(seconds, 60)
    text = (f"{int(minutes)} min. " if minutes >= 1 else "") + f"{rest:.1f} sec."
    return (f"<div class='performance'><p class='time'>Time taken: <wbr><span class='measurement'>{text}</span>"
            "</p></div>")


def _remember_selection(info: dict, event: gr.SelectData):
    """Selecting an image shows its own infotext and makes ♻️ use its seed."""
    info = {**(info or {}), "selected": event.index}
    texts = info.get("infotexts") or []
    return info, (infotext_html(texts[event.index]) if 0 <= event.index < len(texts) else gr.update())


def _selected_infotext(info: dict):
    texts, index = (info or {}).get("infotexts") or [], int((info or {}).get("selected", 0))
    return infotext_html(texts[index]) if 0 <= index < len(texts) else gr.update()


def open_folder(ctx: UiContext, kind: str) -> str:
    """Open the outputs folder in the file manager when the browser runs on this machine; else show the path."""
    folder = ctx.app.paths.data_dir / ctx.app.options.get(f"outdir_{kind}_samples")
    folder.mkdir(parents=True, exist_ok=True)
    opener = {"win32": None, "darwin": "open"}.get(sys.platform, "xdg-open")
    local = not (ctx.app.flags.listen or ctx.app.flags.server_name)
    if local and sys.platform == "win32":
        os.startfile(folder)  # noqa: S606 (the user's own folder)
    elif local and opener and shutil.which(opener):
        subprocess.Popen([opener, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return f"<div class='folder-path'>Output folder: <code>{html.escape(str(folder))}</code></div>"


def gallery_images(value) -> list[Image.Image]:
    """A gallery's value ([(path, caption)] or [path] or images) → PIL images with their text chunks."""
    images = []
    for item in value or []:
        item = item[0] if isinstance(item, (tuple, list)) else item
        if isinstance(item, dict):
            item = item.get("image", {}).get("path") or item.get("path")
        if isinstance(item, Image.Image):
            images.append(item)
        elif item:
            images.append(Image.open(Path(item)))
    return images


def selected_image(value, info: dict | None) -> Image.Image | None:
    images = gallery_images(value)
    if not images:
        return None
    index = min(max(int((info or {}).get("selected", 0)), 0), len(images) - 1)
    return images[index]


def stream_job(ctx: UiContext, work: Callable[[Job], Any], job_count: int, results: Results):
    """Generator for a Generate event: progress while `work(job)` runs, then (gallery, infotext, info, log).

    Outputs, in order: gallery, progress, info html, generation_info, log html. User errors become a message.
    """
    app = ctx.app
    started = time.perf_counter()
    job = Job(job_count=job_count)
    previews = bool(app.options.get("live_previews_enable"))  # the pipeline sets job.preview every N steps
    try:
        runner = run_with_progress(lambda: work(job), job, ctx.line, lambda: app.current_job is job,
                                   lambda: queue_position(app, job))
        while True:
            try:
                bar, preview = next(runner)
            except StopIteration as stop:
                result = stop.value
                break
            yield (gr.update(value=[preview]) if previews and preview is not None else gr.update(), bar, gr.update(),
                   gr.update(), "")
    except EaselError as e:
        yield gr.update(), "", gr.update(), gr.update(), error_html(e.message)
        return
    if result is None:
        yield gr.update(), "", gr.update(), gr.update(), error_html("Nothing was generated.")
        return
    shown, texts = result.shown_images, result.shown_infotexts
    for image, text in zip(shown, texts):
        image.info["parameters"] = text
    info = {**result.info, "selected": 0}
    message, bar = "", ""
    if result.interrupted:  # the bar stays where the job stopped
        stopped = job.progress()
        message = error_html(f"Interrupted at step {stopped.sampling_step} of {stopped.sampling_steps}: "
                             "showing what was finished.")
        bar = progress_html(stopped.fraction, None, step=(stopped.sampling_step, stopped.sampling_steps))
    notes = "".join(error_html(w) for w in getattr(result, "warnings", []))
    # a saved image is shown from its file, so the gallery's download keeps its output name (00002-3344018468.png)
    captions = [(str(path) if path is not None else image, None) for image, path in zip(shown, result.shown_paths)]
    performance = time_taken_html(time.perf_counter() - started)
    yield captions, bar, infotext_html(texts[0] if texts else ""), info, message + notes + performance


def queue_position(app, job) -> tuple[int, int] | None:
    """(1-based place, jobs queued) from the App's job queue, when it has one (else None)."""
    jobs = getattr(app, "jobs", None)
    if jobs is None or not hasattr(jobs, "state"):
        return None
    state = jobs.state(job.id)
    if state is None or state.position is None:
        return None
    queued = len(jobs.store.queued_ids()) if hasattr(jobs, "store") else state.position + 1
    running = 1 if app.current_job is not None else 0
    return state.position + 1 + running, queued + running


def refresh_after(ctx: UiContext, event) -> None:
    """After a generation, re-list the checkpoints: a file deleted meanwhile leaves the dropdown at once."""
    if "refresh_checkpoints" in ctx.shared:
        refresh, dropdown = ctx.shared["refresh_checkpoints"]
        event.then(lambda: refresh()[0], inputs=None, outputs=dropdown, queue=False, show_progress="hidden")


def outputs_of(results: Results) -> list:
    return [results.gallery, results.progress, results.info, results.generation_info, results.log]
