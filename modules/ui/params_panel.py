"""Generation parameters shared by txt2img and img2img: sampler, steps, size, batch, CFG, seed with its extras.

Every control is registered as the tab's field under the request's A1111 name, with A1111's element id.
"""
from __future__ import annotations

import random

import gradio as gr

from modules.errors import EaselError

from modules.ui.context import UiContext

HIRES_LATENT = ("Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",
                "Latent (nearest)", "Latent (nearest-exact)")
HIRES_UPSCALERS = (*HIRES_LATENT, "None", "Lanczos", "Nearest")  # without an upscaler service
UI_DEFAULT_SAMPLER = "DPM++ 2M"  # A1111: the UI default (the API's is Euler)


def random_seed() -> int:
    return random.randrange(4294967294)


def tool(value: str, elem_id: str, tooltip: str | None = None):
    return gr.Button(value, elem_id=elem_id, elem_classes=["tool"], scale=0, min_width=36)


def build_sampler_row(tab: str, ctx: UiContext) -> None:
    samplers = ctx.app.services.samplers
    names = [s.name for s in samplers.samplers]
    default = UI_DEFAULT_SAMPLER if UI_DEFAULT_SAMPLER in names else names[0]
    with gr.Row(elem_id=f"{tab}_sampler_row"):
        ctx.add(tab, "sampler_name", gr.Dropdown, label="Sampling method", choices=names, value=default,
                elem_id=f"{tab}_sampling")
        ctx.add(tab, "scheduler", gr.Dropdown, label="Schedule type", choices=[s.label for s in samplers.schedulers],
                value="Automatic", elem_id=f"{tab}_scheduler")
        ctx.add(tab, "steps", gr.Slider, minimum=1, maximum=150, step=1, value=20, label="Sampling steps",
                elem_id=f"{tab}_steps")


def native_size(app) -> int:
    """The selected checkpoint's native size (64 for the built-in model, 512 for SD 1.x); 512 without models."""
    try:
        return app.models.native_size(app.options.get("sd_model_checkpoint") or None)
    except EaselError:
        return 512


def build_size_rows(tab: str, ctx: UiContext) -> None:
    size = native_size(ctx.app)
    with gr.Row(elem_id=f"{tab}_dimensions_row"):
        with gr.Column(scale=4, elem_id=f"{tab}_column_size"):
            width = ctx.add(tab, "width", gr.Slider, minimum=64, maximum=2048, step=8, value=size, label="Width",
                            elem_id=f"{tab}_width")
            height = ctx.add(tab, "height", gr.Slider, minimum=64, maximum=2048, step=8, value=size,
                             label="Height", elem_id=f"{tab}_height")
        swap = tool("⇅", f"{tab}_res_switch_btn")
        with gr.Column(scale=2, elem_id=f"{tab}_column_batch"):
            most = int(getattr(getattr(ctx.app, "flags", None), "max_batch_count", None) or 100)  # A1111's flag
            ctx.add(tab, "n_iter", gr.Slider, minimum=1, maximum=most, step=1, value=1, label="Batch count",
                    elem_id=f"{tab}_batch_count")
            ctx.add(tab, "batch_size", gr.Slider, minimum=1, maximum=8, step=1, value=1, label="Batch size",
                    elem_id=f"{tab}_batch_size")
    swap.click(lambda w, h: (h, w), inputs=[width, height], outputs=[width, height], queue=False,
               show_progress="hidden")


def build_cfg(tab: str, ctx: UiContext) -> None:
    ctx.add(tab, "cfg_scale", gr.Slider, minimum=1.0, maximum=30.0, step=0.5, value=7.0, label="CFG Scale",
            elem_id=f"{tab}_cfg_scale")


def build_seed(tab: str, ctx: UiContext, generation_info) -> None:
    """Seed with 🎲 (random) and ♻️ (the last image's seed), and the variation-seed extras behind "Extra"."""
    with gr.Row(elem_id=f"{tab}_seed_row"):
        seed = ctx.add(tab, "seed", gr.Number, label="Seed", value=-1, precision=0, elem_id=f"{tab}_seed",
                       scale=4)
        random_button = tool("🎲", f"{tab}_random_seed")
        reuse = tool("♻️", f"{tab}_reuse_seed")
        extras = ctx.add(tab, "seed_extras", gr.Checkbox, label="Extra", value=False, elem_id=f"{tab}_subseed_show",
                         scale=1, min_width=80)
    with gr.Group(visible=False, elem_id=f"{tab}_seed_extras") as extra_box:
        with gr.Row():
            subseed = ctx.add(tab, "subseed", gr.Number, label="Variation seed", value=-1, precision=0,
                              elem_id=f"{tab}_subseed", scale=4)
            sub_random = tool("🎲", f"{tab}_random_subseed")
            sub_reuse = tool("♻️", f"{tab}_reuse_subseed")
            ctx.add(tab, "subseed_strength", gr.Slider, label="Variation strength", value=0.0, minimum=0, maximum=1,
                    step=0.01, elem_id=f"{tab}_subseed_strength", scale=4)
        with gr.Row():
            ctx.add(tab, "seed_resize_from_w", gr.Slider, minimum=0, maximum=2048, step=8,
                    label="Resize seed from width", value=0, elem_id=f"{tab}_seed_resize_from_w")
            ctx.add(tab, "seed_resize_from_h", gr.Slider, minimum=0, maximum=2048, step=8,
                    label="Resize seed from height", value=0, elem_id=f"{tab}_seed_resize_from_h")
    extras.change(lambda show: gr.update(visible=bool(show)), inputs=extras, outputs=extra_box, queue=False,
                  show_progress="hidden")
    random_button.click(lambda: -1, inputs=None, outputs=seed, queue=False, show_progress="hidden")
    sub_random.click(lambda: -1, inputs=None, outputs=subseed, queue=False, show_progress="hidden")
    reuse.click(lambda info: _last_seed(info, "all_seeds"), inputs=generation_info, outputs=seed, queue=False,
                show_progress="hidden")
    sub_reuse.click(lambda info: _last_seed(info, "all_subseeds"), inputs=generation_info, outputs=subseed,
                    queue=False, show_progress="hidden")


def _last_seed(info: dict | None, key: str):
    """The seed of the image selected in the gallery (the first when none is), from the last result's info."""
    if not info or not info.get(key):
        return gr.update()
    index = min(max(int(info.get("selected", 0)), 0), len(info[key]) - 1)
    return info[key][index]


def build_hires(ctx: UiContext) -> None:
    """txt2img's Hires. fix: a first pass at the set size, upscaled, then refined (issue: img2img/hires)."""
    tab = "txt2img"
    upscalers = getattr(ctx.app.services, "upscalers", None)
    names = [*HIRES_LATENT, *(u.name for u in upscalers.list())] if upscalers is not None else list(HIRES_UPSCALERS)
    with gr.Accordion("Hires. fix", open=False, elem_id="txt2img_hr"):
        ctx.add(tab, "enable_hr", gr.Checkbox, label="Enable Hires. fix", value=False, elem_id="txt2img_enable_hr")
        with gr.Row():
            ctx.add(tab, "hr_upscaler", gr.Dropdown, label="Upscaler", choices=names, value="Latent",
                    elem_id="txt2img_hr_upscaler")
            ctx.add(tab, "hr_second_pass_steps", gr.Slider, minimum=0, maximum=150, step=1, value=0,
                    label="Hires steps", elem_id="txt2img_hires_steps")
            ctx.add(tab, "denoising_strength", gr.Slider, minimum=0.0, maximum=1.0, step=0.01, value=0.7,
                    label="Denoising strength", elem_id="txt2img_denoising_strength")
        with gr.Row(elem_id="txt2img_hires_fix_row2"):  # hidden by use_old_hires_fix_width_height (easel.js)
            ctx.add(tab, "hr_scale", gr.Slider, minimum=1.0, maximum=4.0, step=0.05, value=2.0, label="Upscale by",
                    elem_id="txt2img_hr_scale")
            ctx.add(tab, "hr_resize_x", gr.Slider, minimum=0, maximum=2048, step=8, value=0, label="Resize width to",
                    elem_id="txt2img_hr_resize_x")
            ctx.add(tab, "hr_resize_y", gr.Slider, minimum=0, maximum=2048, step=8, value=0,
                    label="Resize height to", elem_id="txt2img_hr_resize_y")


def checkpoint_choices(app) -> list[str]:
    """The refiner's choices: "None" then every checkpoint title (GET /sdapi/v1/sd-models)."""
    return ["None", *(c.title for c in app.models.list_checkpoints())]


def build_refiner(tab: str, ctx: UiContext) -> None:
    """A1111's Refiner accordion (processing_scripts/refiner.py, same element ids): another checkpoint takes over
    the sampling at "Switch at" (docs/pipeline.md, "Refiner"). `refiner_enable` off sends no refiner."""
    with gr.Accordion("Refiner", open=False, elem_id=f"{tab}_enable"):
        ctx.add(tab, "refiner_enable", gr.Checkbox, label="Enable Refiner", value=False,
                elem_id=f"{tab}_enable-checkbox")
        with gr.Row():
            checkpoint = ctx.add(tab, "refiner_checkpoint", gr.Dropdown, label="Checkpoint",
                                 choices=checkpoint_choices(ctx.app), value="None", elem_id=f"{tab}_checkpoint")
            refresh = tool("🔄", f"{tab}_checkpoint_refresh")
            ctx.add(tab, "refiner_switch_at", gr.Slider, value=0.8, label="Switch at", minimum=0.01, maximum=1.0,
                    step=0.01, elem_id=f"{tab}_switch_at")

    def refreshed():
        ctx.app.models.list_checkpoints(refresh=True)
        return gr.update(choices=checkpoint_choices(ctx.app))

    refresh.click(refreshed, inputs=None, outputs=checkpoint, queue=False, show_progress="hidden")


def build_override_settings(tab: str, ctx: UiContext) -> None:
    """A1111's "Override settings" box: hidden until a paste finds settings in the infotext that differ from the
    current ones; the entries left in it (`Eta: 0.5`, …) become the job's `override_settings`
    (modules/imaging/infotext_settings.py)."""
    with gr.Row(elem_id=f"{tab}_override_settings_row"):
        ctx.add(tab, "override_settings", gr.Dropdown, keep=False, label="Override settings", choices=[], value=[],
                multiselect=True, allow_custom_value=True, visible=False, elem_id=f"{tab}_override_settings")


def build_script_area(tab: str, ctx: UiContext) -> None:
    """Extensions' always-visible panels and the Script dropdown with the chosen script's panel (A1111's
    layout). The App's script host builds them; the tab sends `section.inputs` with each generation."""
    host = getattr(ctx.app, "scripts", None)
    if host is None:
        return
    with gr.Column(elem_id=f"{tab}_script_container"):
        section = host.build_ui(tab)
    ctx.shared[f"{tab}_scripts"] = section
    ctx.shared[f"{tab}_paste_extra"] = list(getattr(section.runner, "infotext_fields", None) or [])


def script_inputs(ctx: UiContext, tab: str) -> list:
    section = ctx.shared.get(f"{tab}_scripts")
    return list(section.inputs) if section is not None else []


def script_fields(ctx: UiContext, tab: str, values) -> dict:
    """The request fields (script_name, script_args, alwayson_scripts) of the script inputs' values."""
    section = ctx.shared.get(f"{tab}_scripts")
    return section.request_fields(list(values)) if section is not None else {}
