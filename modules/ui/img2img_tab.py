"""The img2img tab with A1111's sub-tabs: img2img, Sketch, Inpaint (brush mask, modules/ui/mask_editor.py),
Inpaint upload, Batch."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from modules.errors import EaselError, InvalidInput
from modules.ui import controlnet_panel, extra_networks, interrogate_buttons, mask_editor, params_panel, \
    paste_wiring, prompt_row, results
from modules.ui.components import SafeImage, SafeImageEditor
from modules.ui.context import UiContext
from modules.ui.image_inputs import editor_composite, inpaint_image_and_mask, uploaded_mask
from modules.ui.requests import build_request, page_user

TAB = "img2img"
MODES = (("img2img", "img2img"), ("sketch", "Sketch"), ("inpaint", "Inpaint"), ("inpaint_upload", "Inpaint upload"),
         ("batch", "Batch"))
RESIZE_MODES = (("Just resize", 0), ("Crop and resize", 1), ("Resize and fill", 2), ("Just resize (latent upscale)", 3))
INPAINT_MODES = ("inpaint", "inpaint_upload", "batch")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
# Gradio passes the inputs to this first; their first value becomes the mode of the sub-tab shown (A1111 reads
# get_tab_index('mode_img2img') the same way at submit).
MODE_JS = f"""(...values) => {{
    const modes = {json.dumps([key for key, _ in MODES])};
    const shown = modes[get_tab_index("mode_img2img")];
    if (shown) values[0] = shown;
    return values;
}}"""


def _inputs_panel(ctx: UiContext):
    """The sub-tabs: (image inputs in a fixed order, the painted mask last; the sub-tab blocks in MODES order)."""
    with gr.Tabs(elem_id="mode_img2img") as subtabs:
        with gr.Tab("img2img", id="img2img", elem_id="img2img_img2img_tab") as t0:
            image = SafeImage(label="Image for img2img", type="pil", image_mode="RGBA", elem_id="img2img_image",
                             sources=["upload", "clipboard"], height=420)
        with gr.Tab("Sketch", id="sketch", elem_id="img2img_img2img_sketch_tab") as t1:
            sketch = SafeImageEditor(label="Sketch", type="pil", image_mode="RGBA", elem_id="img2img_sketch",
                                    sources=["upload", "clipboard"], height=420)
        with gr.Tab("Inpaint", id="inpaint", elem_id="img2img_inpaint_tab") as t2:
            inpaint, painted = mask_editor.build(height=420)
        with gr.Tab("Inpaint upload", id="inpaint_upload", elem_id="img2img_inpaint_upload_tab") as t3:
            with gr.Row():
                base = SafeImage(label="Image for img2img", type="pil", image_mode="RGBA", elem_id="img_inpaint_base",
                                sources=["upload", "clipboard"], height=320)
                mask = SafeImage(label="Mask", type="pil", image_mode="RGBA", elem_id="img_inpaint_mask",
                                sources=["upload", "clipboard"], height=320)
        with gr.Tab("Batch", id="batch", elem_id="img2img_batch_tab") as t4:
            gr.Markdown("Process every image of a folder on the server; results go to the output folder, or to the "
                        "one given here under the input file names.")
            batch_in = gr.Textbox(label="Input directory", elem_id="img2img_batch_input_dir")
            batch_out = gr.Textbox(label="Output directory", elem_id="img2img_batch_output_dir")
            batch_mask = gr.Textbox(label="Inpaint batch mask directory (optional)",
                                    elem_id="img2img_batch_inpaint_mask_dir")
    ctx.shared.update(img2img_image=image, inpaint_image=inpaint, img2img_subtab=(subtabs, "img2img"),
                      inpaint_subtab=(subtabs, "inpaint"))
    return [image, sketch, inpaint, base, mask, batch_in, batch_out, batch_mask, painted], (t0, t1, t2, t3, t4)


def _inpaint_controls(ctx: UiContext):
    with gr.Group(visible=False, elem_id="inpaint_controls") as group:
        ctx.add(TAB, "mask_blur", gr.Slider, label="Mask blur", minimum=0, maximum=64, step=1, value=4,
                elem_id="img2img_mask_blur")
        with gr.Row():
            ctx.add(TAB, "inpainting_mask_invert", gr.Radio, label="Mask mode", value=0,
                    choices=[("Inpaint masked", 0), ("Inpaint not masked", 1)], elem_id="img2img_mask_mode")
            ctx.add(TAB, "inpainting_fill", gr.Radio, label="Masked content", value=1,
                    choices=[("fill", 0), ("original", 1), ("latent noise", 2), ("latent nothing", 3)],
                    elem_id="img2img_inpainting_fill")
        with gr.Row():
            ctx.add(TAB, "inpaint_full_res", gr.Radio, label="Inpaint area", value=False,
                    choices=[("Whole picture", False), ("Only masked", True)], elem_id="img2img_inpaint_full_res")
            ctx.add(TAB, "inpaint_full_res_padding", gr.Slider, label="Only masked padding, pixels", minimum=0,
                    maximum=256, step=4, value=32, elem_id="img2img_inpaint_full_res_padding")
    return group


def init_and_mask(mode: str, image, sketch, inpaint, base, mask, painted: str | None = None):
    """The init image and mask (or None) of the chosen sub-tab; a missing image is the user's to fix. `painted` is
    the Inpaint canvas' mask as a PNG data URL."""
    if mode == "img2img":
        if image is None:
            raise InvalidInput("image", "no image uploaded", "drop an image on the img2img canvas")
        return image, None
    if mode == "sketch":
        return editor_composite(sketch, "sketch"), None
    if mode == "inpaint":
        return inpaint_image_and_mask(inpaint, painted, "inpaint")
    if mode == "inpaint_upload":
        if base is None:
            raise InvalidInput("image", "no image uploaded", "upload the image to inpaint")
        return base, uploaded_mask(mask, base.size)
    raise InvalidInput("mode", f"unknown img2img mode {mode!r}", ", ".join(m for m, _ in MODES))


def batch_files(folder: str) -> list[Path]:
    path = Path(folder or "").expanduser()
    if not folder or not path.is_dir():
        raise InvalidInput("input directory", f"{folder!r} is not a folder", "a folder of images on the server")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput("input directory", f"no images in {path}", "png, jpg or webp files")
    return files


def build(ctx: UiContext) -> None:
    row = prompt_row.build(TAB, ctx)
    generation_info = gr.State({})
    # the sub-tab's mode, read from the tab shown when Generate is pressed (MODE_JS); tab select events keep it for
    # Send to and the inpaint controls, but tabs mounted at load (javascript/easel.js) send theirs too, and their
    # answers may cross
    mode = gr.Textbox("img2img", visible=False, elem_id="img2img_mode_value")
    with extra_networks.tabs(TAB, ctx), gr.Row(equal_height=False, elem_id=f"{TAB}_settings_row"):
        with gr.Column(scale=1, elem_id=f"{TAB}_settings"):
            images, subtabs = _inputs_panel(ctx)
            interrogate_buttons.build(ctx, row.prompt, mode, images[:4], MODE_JS)
            ctx.add(TAB, "resize_mode", gr.Radio, label="Resize mode", choices=list(RESIZE_MODES), value=0,
                    elem_id="resize_mode")
            inpaint_group = _inpaint_controls(ctx)
            ctx.shared["img2img_mode"] = (mode, inpaint_group)
            for tab, (key, _) in zip(subtabs, MODES):
                tab.select(lambda k=key: (k, gr.update(visible=k in INPAINT_MODES)), inputs=None,
                           outputs=[mode, inpaint_group], queue=False, show_progress="hidden")
            params_panel.build_sampler_row(TAB, ctx)
            params_panel.build_refiner(TAB, ctx)
            params_panel.build_size_rows(TAB, ctx)
            params_panel.build_cfg(TAB, ctx)
            ctx.add(TAB, "denoising_strength", gr.Slider, label="Denoising strength", minimum=0.0, maximum=1.0,
                    step=0.01, value=0.75, elem_id="img2img_denoising_strength")
            params_panel.build_seed(TAB, ctx, generation_info)
            controlnet_panel.build(TAB, ctx)
            params_panel.build_override_settings(TAB, ctx)
            params_panel.build_script_area(TAB, ctx)
        with gr.Column(scale=1, elem_id=f"{TAB}_output_column"):
            out = results.build(TAB, ctx, "img2img", generation_info)
    ctx.shared[f"{TAB}_results"] = out
    _wire_generate(ctx, row, out, mode, images)
    paste_wiring.wire(ctx, TAB, row, generation_info)


def _wire_generate(ctx: UiContext, row, out, mode, images) -> None:
    fields = ctx.tab_fields(TAB)
    names, components = list(fields), list(fields.values())
    components += params_panel.script_inputs(ctx, TAB)  # extension scripts' values ride after the fields
    control_inputs = controlnet_panel.inputs(ctx, TAB)  # then the ControlNet units'
    components += control_inputs

    def generate(http: gr.Request, mode_value, image, sketch, inpaint, base, mask, batch_in, batch_out, batch_mask,
                 painted, *values):
        from modules.pipeline.img2img_request import Img2ImgRequest

        try:
            if not hasattr(ctx.app, "img2img"):
                raise EaselError("img2img is not available in this version of Easel")
            split = len(values) - len(control_inputs)
            scripts = params_panel.script_fields(ctx, TAB, values[len(names):split])
            control_values = values[split:]
            fields = {**dict(zip(names, values)), **scripts, "user": page_user(http),
                      "controlnet_units": controlnet_panel.request_units(ctx, control_values, True, True)}
            if mode_value == "batch":
                work, count = _batch_work(ctx, Img2ImgRequest, fields, batch_in, batch_out, batch_mask)
            else:
                init, mask_image = init_and_mask(mode_value, image, sketch, inpaint, base, mask, painted)
                request = build_request(Img2ImgRequest, fields, init_images=(init,), mask=mask_image,
                                        save_images=bool(ctx.app.options.get("samples_save")))
                work, count = (lambda job: ctx.app.img2img(request, job)), request.n_iter
        except EaselError as e:
            yield gr.update(), "", gr.update(), gr.update(), results.error_html(e.message)
            return
        yield from results.stream_job(ctx, work, count, out)

    event = row.generate.click(generate, js=MODE_JS, inputs=[mode, *images, *components],
                               outputs=results.outputs_of(out), concurrency_limit=None, show_progress="hidden")
    results.refresh_after(ctx, event)


def _batch_work(ctx: UiContext, request_type, values: dict, folder: str, out_dir: str, mask_dir: str):
    """Each image of `folder` in turn (with the same-named mask from `mask_dir`); one result for all."""
    if getattr(getattr(ctx.app, "flags", None), "hide_ui_dir_config", False):  # A1111 turns it off likewise
        raise EaselError("img2img from a folder is off: Easel was started with --hide-ui-dir-config")
    files = batch_files(folder)
    save = bool(ctx.app.options.get("samples_save"))

    def work(job):
        from modules.imaging.metadata import open_image

        combined = None
        for file in files:
            if job.interrupted:
                break
            init = open_image(file.read_bytes())
            mask = None
            if mask_dir and (Path(mask_dir) / file.name).is_file():
                mask = uploaded_mask(open_image((Path(mask_dir) / file.name).read_bytes()), init.size)
            request = build_request(request_type, values, init_images=(init,), mask=mask, save_images=save,
                                    do_not_save_grid=True)
            result = ctx.app.img2img(request, job)
            if out_dir:
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                for i, (picture, text) in enumerate(zip(result.images, result.infotexts)):
                    stem = file.stem if i == 0 else f"{file.stem}-{i}"
                    picture.save(Path(out_dir) / f"{stem}.png", pnginfo=_png_text(text))
            combined = result if combined is None else _merge(combined, result)
        return combined

    return work, len(files)


def _png_text(text: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    return info


def _merge(first, more):
    first.images.extend(more.images)
    first.infotexts.extend(more.infotexts)
    first.info.setdefault("infotexts", []).extend(more.infotexts)
    first.info.setdefault("all_seeds", []).extend(more.info.get("all_seeds", []))
    return first
