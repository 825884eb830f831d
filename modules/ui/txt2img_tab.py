"""The txt2img tab: prompt row, generation parameters, hires fix, scripts, and the output column."""
from __future__ import annotations

import gradio as gr

from modules.pipeline.request import GenerationRequest
from modules.ui import controlnet_panel, extra_networks, params_panel, paste_wiring, prompt_row, results
from modules.ui.context import UiContext
from modules.ui.requests import build_request, page_user

TAB = "txt2img"


def build(ctx: UiContext) -> None:
    row = prompt_row.build(TAB, ctx)
    generation_info = gr.State({})
    with extra_networks.tabs(TAB, ctx), gr.Row(equal_height=False, elem_id=f"{TAB}_settings_row"):
        with gr.Column(scale=1, elem_id=f"{TAB}_settings"):
            params_panel.build_sampler_row(TAB, ctx)
            params_panel.build_hires(ctx)
            params_panel.build_refiner(TAB, ctx)
            params_panel.build_size_rows(TAB, ctx)
            params_panel.build_cfg(TAB, ctx)
            params_panel.build_seed(TAB, ctx, generation_info)
            controlnet_panel.build(TAB, ctx)
            params_panel.build_override_settings(TAB, ctx)
            params_panel.build_script_area(TAB, ctx)
        with gr.Column(scale=1, elem_id=f"{TAB}_output_column"):
            out = results.build(TAB, ctx, "txt2img", generation_info)
    ctx.shared[f"{TAB}_results"] = out
    fields = ctx.tab_fields(TAB)
    names, components = list(fields), list(fields.values())
    components += params_panel.script_inputs(ctx, TAB)  # extension scripts' values ride after the fields
    control_inputs = controlnet_panel.inputs(ctx, TAB)  # then the ControlNet units'
    components += control_inputs

    def generate(*values, user: str | None = None):
        split = len(values) - len(control_inputs)
        scripts = params_panel.script_fields(ctx, TAB, values[len(names):split])
        units = controlnet_panel.request_units(ctx, values[split:])
        request = build_request(GenerationRequest, dict(zip(names, values)),
                                save_images=bool(ctx.app.options.get("samples_save")), controlnet_units=units,
                                user=user, **scripts)
        yield from results.stream_job(ctx, lambda job: ctx.app.txt2img(request, job), request.n_iter, out)

    def checked(http: gr.Request, *values):
        try:
            yield from generate(*values, user=page_user(http))
        except Exception as e:  # a user error before the job starts (e.g. a feature not there yet)
            from modules.errors import EaselError

            if not isinstance(e, EaselError):
                raise
            yield gr.update(), "", gr.update(), gr.update(), results.error_html(e.message)

    event = row.generate.click(checked, inputs=components, outputs=results.outputs_of(out), concurrency_limit=None,
                               show_progress="hidden")
    results.refresh_after(ctx, event)
    paste_wiring.wire(ctx, TAB, row, generation_info)
