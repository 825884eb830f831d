"""Outpaint: extend an image on the chosen sides, preview the canvas, and let inpainting fill the new area."""
from __future__ import annotations

import gradio as gr

from modules.errors import EaselError
from modules.ui import results
from modules.ui.components import SafeImage
from modules.ui.context import UiContext
from modules.ui.image_inputs import DIRECTIONS, outpaint_canvas, preview_canvas
from modules.ui.requests import build_request, page_user

TAB = "outpaint"
FILLS = [("fill", 0), ("original", 1), ("latent noise", 2), ("latent nothing", 3)]


def _canvas(image, directions, pixels):
    if image is None:
        raise gr.Error("Upload an image to extend first", print_exception=False)
    try:
        return outpaint_canvas(image.convert("RGB"), directions or [], int(pixels))
    except EaselError as e:
        raise gr.Error(e.message, print_exception=False) from None


def build(ctx: UiContext) -> None:
    with gr.Row(equal_height=False, elem_id="outpaint_settings_row"):
        with gr.Column(scale=1, elem_id="outpaint_settings"):
            image = SafeImage(label="Image to extend", type="pil", image_mode="RGBA", elem_id="outpaint_image",
                             sources=["upload", "clipboard"], height=320)
            prompt = gr.Textbox(label="Prompt", lines=2, elem_id="outpaint_prompt", elem_classes=["prompt"],
                                placeholder="What the new area shows (Ctrl+Enter to generate)")
            negative = gr.Textbox(label="Negative prompt", lines=1, elem_id="outpaint_neg_prompt",
                                  elem_classes=["prompt"])
            with gr.Row():
                directions = gr.CheckboxGroup(list(DIRECTIONS), value=["right"], label="Outpainting direction",
                                              elem_id="outpaint_directions")
                pixels = gr.Slider(8, 256, value=128, step=8, label="Pixels to expand", elem_id="outpaint_pixels")
            with gr.Row():
                mask_blur = gr.Slider(0, 64, value=8, step=1, label="Mask blur", elem_id="outpaint_mask_blur")
                fill = gr.Radio(FILLS, value=0, label="Masked content", elem_id="outpaint_inpainting_fill")
            with gr.Row():
                steps = gr.Slider(1, 150, value=20, step=1, label="Sampling steps", elem_id="outpaint_steps")
                strength = gr.Slider(0.0, 1.0, value=0.8, step=0.01, label="Denoising strength",
                                     elem_id="outpaint_denoising_strength")
                seed = gr.Number(-1, precision=0, label="Seed", elem_id="outpaint_seed")
            with gr.Row():
                preview_button = gr.Button("Preview canvas", elem_id="outpaint_preview_button")
                generate = gr.Button("Generate", variant="primary", elem_id="outpaint_generate")
                interrupt = gr.Button("Interrupt", elem_id="outpaint_interrupt")
            canvas_preview = SafeImage(label="Extended canvas (orange: to be generated)", interactive=False,
                                      elem_id="outpaint_canvas", height=240)
        with gr.Column(scale=1, elem_id="outpaint_output_column"):
            out = results.build(TAB, ctx, "img2img")
    ctx.shared[f"{TAB}_results"] = out

    def show_canvas(picture, chosen, amount):
        canvas, mask = _canvas(picture, chosen, amount)
        return preview_canvas(canvas, mask)

    def run(http: gr.Request, picture, chosen, amount, blur, fill_mode, step_count, denoise, seed_value, text,
            negative_text):
        from modules.pipeline.img2img_request import Img2ImgRequest

        try:
            if picture is None:
                raise EaselError("outpaint: no image uploaded (upload an image to extend)")
            canvas, mask = outpaint_canvas(picture.convert("RGB"), chosen or [], int(amount))
            values = {"prompt": text, "negative_prompt": negative_text, "steps": step_count, "seed": seed_value,
                      "denoising_strength": denoise, "mask_blur": blur, "inpainting_fill": fill_mode,
                      "width": canvas.width, "height": canvas.height, "inpaint_full_res": False,
                      "sampler_name": "DPM++ 2M"}
            request = build_request(Img2ImgRequest, values, init_images=(canvas,), mask=mask,
                                    save_images=bool(ctx.app.options.get("samples_save")), user=page_user(http))
        except EaselError as e:
            yield gr.update(), "", gr.update(), gr.update(), results.error_html(e.message)
            return
        yield from results.stream_job(ctx, lambda job: ctx.app.img2img(request, job), 1, out)

    for trigger in (preview_button.click, image.upload, directions.change, pixels.release):
        trigger(show_canvas, inputs=[image, directions, pixels], outputs=canvas_preview, queue=False,
                show_progress="hidden")
    generate.click(run, inputs=[image, directions, pixels, mask_blur, fill, steps, strength, seed, prompt, negative],
                   outputs=results.outputs_of(out), concurrency_limit=None, show_progress="hidden")
    interrupt.click(ctx.app.interrupt, inputs=None, outputs=None, queue=False)
