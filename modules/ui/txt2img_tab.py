"""The txt2img tab: prompt boxes, generation parameters, gallery and infotext (A1111 element ids)."""
from __future__ import annotations

import html

import gradio as gr

from modules.errors import EaselError
from modules.pipeline.request import GenerationRequest


def _request_from_ui(prompt, negative, sampler, scheduler, steps, cfg, width, height, seed, n_iter, batch_size,
                     save) -> GenerationRequest:
    return GenerationRequest(prompt=prompt or "", negative_prompt=negative or "", sampler_name=sampler,
                             scheduler=scheduler, steps=int(steps), cfg_scale=float(cfg), width=int(width),
                             height=int(height), seed=int(seed), n_iter=int(n_iter), batch_size=int(batch_size),
                             save_images=save)


def _infotext_html(text: str) -> str:
    return f"<pre class='infotext'>{html.escape(text)}</pre>"


def build(app) -> None:
    samplers = app.services.samplers
    with gr.Row():
        with gr.Column(scale=6):
            prompt = gr.Textbox(label="Prompt", lines=3, elem_id="txt2img_prompt",
                                placeholder="Prompt (Ctrl+Enter to generate)")
            negative = gr.Textbox(label="Negative prompt", lines=2, elem_id="txt2img_neg_prompt")
        with gr.Column(scale=1, min_width=160):
            generate = gr.Button("Generate", variant="primary", elem_id="txt2img_generate")
            interrupt = gr.Button("Interrupt", elem_id="txt2img_interrupt")
    with gr.Row():
        with gr.Column():
            with gr.Row():
                sampler = gr.Dropdown([s.name for s in samplers.samplers], value="DPM++ 2M", label="Sampling method",
                                      elem_id="txt2img_sampling")
                scheduler = gr.Dropdown([s.label for s in samplers.schedulers], value="Automatic", label="Schedule type",
                                        elem_id="txt2img_scheduler")
                steps = gr.Slider(1, 150, value=20, step=1, label="Sampling steps", elem_id="txt2img_steps")
            with gr.Row():
                width = gr.Slider(64, 2048, value=512, step=8, label="Width", elem_id="txt2img_width")
                height = gr.Slider(64, 2048, value=512, step=8, label="Height", elem_id="txt2img_height")
            with gr.Row():
                n_iter = gr.Slider(1, 100, value=1, step=1, label="Batch count", elem_id="txt2img_batch_count")
                batch_size = gr.Slider(1, 8, value=1, step=1, label="Batch size", elem_id="txt2img_batch_size")
            cfg = gr.Slider(1.0, 30.0, value=7.0, step=0.5, label="CFG Scale", elem_id="txt2img_cfg_scale")
            seed = gr.Number(-1, label="Seed", precision=0, elem_id="txt2img_seed")
        with gr.Column():
            gallery = gr.Gallery(label="Output", format="png", elem_id="txt2img_gallery", columns=2)
            info = gr.HTML(elem_id="html_info_txt2img")

    def run(*values):
        try:
            request = _request_from_ui(*values, save=app.options.get("samples_save"))
            result = app.txt2img(request)
        except EaselError as e:
            raise gr.Error(e.message, print_exception=False) from None
        for image, text in zip(result.images, result.infotexts):
            image.info["parameters"] = text
        return result.images, _infotext_html(result.infotexts[0] if result.infotexts else "")

    inputs = [prompt, negative, sampler, scheduler, steps, cfg, width, height, seed, n_iter, batch_size]
    generate.click(run, inputs=inputs, outputs=[gallery, info])
    prompt.submit(run, inputs=inputs, outputs=[gallery, info])
    interrupt.click(app.interrupt, inputs=None, outputs=None)
