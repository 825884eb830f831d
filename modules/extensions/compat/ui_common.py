"""A1111's `modules.ui_common`: the refresh button helper and the symbols extensions reuse.

`create_refresh_button` is also A1111's `modules.ui.create_refresh_button` (aliased there by core_extras).
"""
from __future__ import annotations

import html

import gradio as gr

from .ui_components import ToolButton

refresh_symbol = "\U0001f504"  # 🔄
folder_symbol = "\U0001f4c2"  # 📂
save_style_symbol = "\U0001f4be"  # 💾
apply_style_symbol = "\U0001f4cb"  # 📋
clear_prompt_symbol = "\U0001f5d1\ufe0f"  # 🗑️
random_symbol = "\U0001f3b2\ufe0f"  # 🎲️
reuse_symbol = "\u267b\ufe0f"  # ♻️
paste_symbol = "\u2199\ufe0f"  # ↙
extra_networks_symbol = "\U0001f3b4"  # 🎴
switch_values_symbol = "\u21c5"  # ⇅
restore_progress_symbol = "\U0001f300"  # 🌀
detect_image_size_symbol = "\U0001f4d0"  # 📐


def plaintext_to_html(text: str, classname: str | None = None) -> str:
    """Text as one HTML paragraph, lines joined with <br>, everything escaped (A1111's helper)."""
    content = "<br>\n".join(html.escape(x) for x in text.split("\n"))
    return f"<p class='{classname}'>{content}</p>" if classname else f"<p>{content}</p>"


def create_refresh_button(refresh_component, refresh_method, refreshed_args, elem_id):
    """A 🔄 ToolButton that calls `refresh_method()`, then sets `refreshed_args` (a dict, or a function returning
    one, e.g. `lambda: {"choices": names()}`) on `refresh_component` (one component or a list) both on the
    Python objects and in the page. Returns the button."""
    components = refresh_component if isinstance(refresh_component, list) else [refresh_component]
    label = next((c.label for c in components if getattr(c, "label", None) is not None), None)

    def refresh():
        refresh_method()
        args = (refreshed_args() if callable(refreshed_args) else refreshed_args) or {}
        for key, value in args.items():
            for component in components:
                setattr(component, key, value)
        updates = [gr.update(**args) for _ in components]
        return updates if len(components) > 1 else updates[0]

    button = ToolButton(value=refresh_symbol, elem_id=elem_id, tooltip=f"{label}: refresh" if label else "Refresh")
    button.click(fn=refresh, inputs=[], outputs=components)
    return button


def gr_show(visible: bool = True) -> dict:
    """A1111's `ui.gr_show`: an update that shows or hides a component."""
    return gr.update(visible=visible)


def versions_html() -> str:
    """The versions line of A1111's page footer, with Easel's and its libraries' versions."""
    import platform

    from modules.app import VERSION

    return (f"version: easel-{VERSION} &#x2000;•&#x2000; python: {platform.python_version()} &#x2000;•&#x2000; "
            f"gradio: {gr.__version__}")


def save_files(js_data: str, images: list, do_make_zip: bool, index: int):
    """A1111's Save / Zip button handler, for extensions that save gallery images their own way: `js_data` is the
    generation info JSON (infotexts, index_of_first_image, width, sampler_name …), `images` the gallery entries
    (images, (image, caption) pairs, file paths, data URLs), `index` the selected one. Saved to `outdir_save`
    with a log.csv row, as Easel's own Save button does (modules/imaging/save_button.py). Returns (an update
    listing the files, an HTML message)."""
    import json

    from modules.extensions.compat import binding
    from modules.imaging.save_button import SaveSettings
    from modules.imaging.save_button import save_files as save_gallery
    from modules.imaging.saving import jpeg_copy_setting

    app = binding.app()
    info, opts = json.loads(js_data), app.options
    settings = SaveSettings(folder=app.paths.data_dir / opts.get("outdir_save"), fmt=opts.get("samples_format"),
                            selected_only=bool(opts.get("save_selected_only")),
                            write_csv=bool(opts.get("save_write_log_csv")),
                            by_date=bool(opts.get("use_save_to_dirs_for_ui")),
                            zip_pattern=opts.get("grid_zip_filename_pattern"), jpeg_copy=jpeg_copy_setting(opts))
    pictures = [_gallery_image(entry) for entry in images]
    saved = save_gallery(app.services.saver, pictures, list(info.get("infotexts") or []), info, index, settings,
                         bool(do_make_zip))
    return gr.update(value=[str(p) for p in saved.paths], visible=True), plaintext_to_html(saved.message)


def _gallery_image(entry):
    """One gallery entry as a PIL image."""
    import os

    from PIL import Image

    from modules.extensions.compat.infotext_utils import image_from_url_text

    if isinstance(entry, (tuple, list)):
        entry = entry[0]
    if isinstance(entry, str) and os.path.isfile(entry):
        return Image.open(entry)
    return image_from_url_text(entry)


__all__ = ["ToolButton", "create_refresh_button", "plaintext_to_html", "refresh_symbol", "folder_symbol",
           "gr_show", "versions_html"]


class OutputPanel:
    """What `create_output_panel` built, by A1111's attribute names (extensions also unpack it as a tuple)."""

    def __init__(self, gallery, generation_info, infotext, html_log, button_upscale=None):
        self.gallery, self.generation_info, self.infotext = gallery, generation_info, infotext
        self.html_log, self.button_upscale = html_log, button_upscale

    def __iter__(self):
        return iter((self.gallery, self.generation_info, self.infotext, self.html_log))

    def __getitem__(self, index):
        return tuple(self)[index]


def create_output_panel(tabname: str, outdir, toprow=None) -> OutputPanel:
    """A1111's output column for a tab an extension builds (a model merger showing its test images): the gallery,
    the hidden generation-info JSON, the infotext and the log, with A1111's elem_ids. Easel's own tabs have their
    own output column (modules/ui/results.py); A1111's Save / Zip / Send-to row and the hires Upscale button are
    not part of this one (`button_upscale` is None)."""
    with gr.Column(variant="panel", elem_id=f"{tabname}_results_panel"):
        gallery = gr.Gallery(label="Output", show_label=False, elem_id=f"{tabname}_gallery", columns=4,
                             preview=True, height="auto")
        generation_info = gr.Textbox(visible="hidden", elem_id=f"generation_info_{tabname}")
        infotext = gr.HTML(elem_id=f"html_info_{tabname}", elem_classes="infotext")
        html_log = gr.HTML(elem_id=f"html_log_{tabname}", elem_classes="html-log")
    return OutputPanel(gallery, generation_info, infotext, html_log)
