"""Extras: upscale an image (or a batch) with A1111's two upscaler slots, keeping its parameters chunk; restore
faces with GFPGAN / CodeFormer (A1111's sliders); then the extensions' postprocessing scripts, whose controls the
script host lays out below."""
from __future__ import annotations

import gradio as gr

from modules.errors import EaselError
from modules.ui.components import SafeImage
from modules.ui.context import UiContext
from modules.ui.results import error_html, infotext_html


def upscaler_choices(app) -> list[str]:
    """The upscalers the App knows (built-in resamplers and model files), as A1111 lists them."""
    upscalers = getattr(app.services, "upscalers", None)
    return [u.name for u in upscalers.list()] if upscalers is not None else ["None", "Lanczos", "Nearest"]


def build(ctx: UiContext) -> None:
    choices = upscaler_choices(ctx.app)
    with gr.Row(equal_height=False, elem_id="extras_row"):
        with gr.Column(scale=1, elem_id="extras_settings"):
            image = SafeImage(label="Source", type="pil", image_mode="RGBA", elem_id="extras_image",
                             sources=["upload", "clipboard"], height=360)
            with gr.Tabs(elem_id="extras_resize_mode"):
                with gr.Tab("Scale by", id="scale_by", elem_id="extras_scale_by_tab"):
                    scale = gr.Slider(1.0, 8.0, value=2.0, step=0.05, label="Resize", elem_id="extras_upscaling_resize")
                with gr.Tab("Scale to", id="scale_to", elem_id="extras_scale_to_tab"):
                    with gr.Row():
                        width = gr.Slider(64, 8192, value=512, step=8, label="Width",
                                          elem_id="extras_upscaling_resize_w")
                        height = gr.Slider(64, 8192, value=512, step=8, label="Height",
                                           elem_id="extras_upscaling_resize_h")
                        crop = gr.Checkbox(True, label="Crop to fit", elem_id="extras_upscaling_crop")
            # the mode is read from the selected tab when Generate is pressed (EXTRAS_MODE_JS), not kept from tab
            # select events: tabs mounted at load (javascript/easel.js) send theirs, whose answers may cross
            mode = gr.Number(0, precision=0, visible=False, elem_id="extras_resize_mode_value")
            with gr.Row():
                first = gr.Dropdown(choices, value="Lanczos" if "Lanczos" in choices else choices[0],
                                    label="Upscaler 1", elem_id="extras_upscaler_1")
                second = gr.Dropdown(choices, value="None", label="Upscaler 2", elem_id="extras_upscaler_2")
                visibility = gr.Slider(0.0, 1.0, value=0.0, step=0.001, label="Upscaler 2 visibility",
                                       elem_id="extras_upscaler_2_visibility")
            with gr.Row(elem_id="extras_face_restoration"):
                gfpgan = gr.Slider(0.0, 1.0, value=0.0, step=0.001, label="GFPGAN visibility",
                                   elem_id="extras_gfpgan_visibility")
                codeformer = gr.Slider(0.0, 1.0, value=0.0, step=0.001, label="CodeFormer visibility",
                                       elem_id="extras_codeformer_visibility")
                weight = gr.Slider(0.0, 1.0, value=0.0, step=0.001,
                                   label="CodeFormer weight (0 = maximum effect, 1 = minimum effect)",
                                   elem_id="extras_codeformer_weight")
            section = None
            host = getattr(ctx.app, "scripts", None)
            if host is not None:
                with gr.Column(elem_id="extras_scripts"):
                    section = host.build_extras_ui()
                if section.scripts:
                    image.change(host.extras_image_changed, queue=False, show_progress="hidden")
            generate = gr.Button("Generate", variant="primary", elem_id="extras_generate")
        with gr.Column(scale=1, elem_id="extras_output_column"):
            gallery = gr.Gallery(label="Result", format="png", elem_id="extras_gallery", height=420,
                                 object_fit="contain", interactive=False)
            info = gr.HTML(elem_id="html_info_extras")

    def run(*values):
        return run_extras(ctx.app, section, *values[:-3], faces=values[-3:])

    generate.click(run, js=EXTRAS_MODE_JS, inputs=[image, mode, scale, width, height, crop, first, second, visibility,
                                *(section.inputs if section is not None else []), gfpgan, codeformer, weight],
                   outputs=[gallery, info])
    ctx.shared["extras_image"] = image
    ctx.shared["extras_scripts"] = section


# Gradio passes the inputs to this first; it answers them with the mode of the tab shown (0 Scale by, 1 Scale to).
EXTRAS_MODE_JS = """(...values) => {
    const tab = document.querySelector("#extras_resize_mode button[role='tab'][aria-selected='true']");
    values[1] = tab && tab.textContent.trim() === "Scale to" ? 1 : 0;
    return values;
}"""


def run_extras(app, section, picture, resize_mode, factor, w, h, crop_it, up1, up2, vis, *script_values,
               faces=(0.0, 0.0, 0.0)):
    """The Generate button: the tab's values (and the scripts' controls, in `section.inputs` order; `faces`: GFPGAN
    visibility, CodeFormer visibility and weight) → App.extras → (gallery, info HTML)."""
    from modules.pipeline.extras import ExtrasRequest

    if picture is None:
        return gr.update(), error_html("extras: no image uploaded (upload the image to upscale)")
    try:
        request = ExtrasRequest(images=(picture,), resize_mode=resize_mode, upscaling_resize=float(factor),
                                upscaling_resize_w=int(w), upscaling_resize_h=int(h), upscaling_crop=crop_it,
                                upscaler_1=up1, upscaler_2=up2, extras_upscaler_2_visibility=float(vis),
                                gfpgan_visibility=float(faces[0]), codeformer_visibility=float(faces[1]),
                                codeformer_weight=float(faces[2]),
                                save_images=bool(app.options.get("samples_save")),
                                script_args=section.script_args(script_values) if section is not None else None)
        result = app.extras(request)
    except EaselError as e:
        return gr.update(), error_html(e.message)
    shown = [f"{image.width}x{image.height}" for image in result.images]
    text = result.infotexts[0] if result.infotexts else ""
    return [(image, None) for image in result.images], infotext_html("\n".join([*shown, text]).strip())
