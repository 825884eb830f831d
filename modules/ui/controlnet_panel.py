"""The ControlNet accordion of txt2img and img2img: one tab per unit (setting control_net_unit_count), with
sd-webui-controlnet's element ids (`txt2img_controlnet`, `txt2img_controlnet_ControlNet-0_input_image`, …) so its
users' scripts and habits carry over. Values become `controlnet_units` of the request (docs/controlnet.md)."""
from __future__ import annotations

import gradio as gr

from modules.controlnet.units import ControlMode, ControlUnit, HiresOption, ResizeMode
from modules.ui.context import UiContext

# Per-unit field → the extension's elem_id suffix.
ELEM = {"image": "input_image", "mask": "mask_image", "enabled": "controlnet_enable_checkbox",
        "low_vram": "controlnet_low_vram_checkbox", "pixel_perfect": "controlnet_pixel_perfect_checkbox",
        "module": "controlnet_preprocessor_dropdown", "model": "controlnet_model_dropdown",
        "weight": "controlnet_control_weight_slider", "guidance_start": "controlnet_start_control_step_slider",
        "guidance_end": "controlnet_ending_control_step_slider",
        "processor_res": "controlnet_preprocessor_resolution_slider", "threshold_a": "controlnet_threshold_A_slider",
        "threshold_b": "controlnet_threshold_B_slider", "control_mode": "controlnet_control_mode_radio",
        "resize_mode": "controlnet_resize_mode_radio", "hr_option": "controlnet_hr_option_radio"}
FIELDS = tuple(ELEM)


def registry(ctx: UiContext):
    from modules.api.controlnet import registry_of

    return registry_of(ctx.app)


def model_choices(ctx: UiContext) -> list[str]:
    from modules.api.controlnet import model_names

    return ["None", *model_names(ctx.app)]


def unit_count(ctx: UiContext) -> int:
    return max(1, int(ctx.app.options.get("control_net_unit_count") or 3))


def build(tab: str, ctx: UiContext) -> None:
    """The accordion; its per-unit components are kept in ctx.shared[f"{tab}_controlnet_units"]."""
    group_id = f"{tab}_controlnet"
    units = []
    with gr.Group(elem_id=group_id):
        with gr.Accordion("ControlNet", open=False, elem_classes=["controlnet"]):
            with gr.Tabs(elem_id=f"{group_id}_tabs"):
                for i in range(unit_count(ctx)):
                    with gr.Tab(f"ControlNet Unit {i}", elem_classes=["cnet-unit-tab"]):
                        units.append(_unit(ctx, f"{group_id}_ControlNet-{i}"))
    ctx.shared[f"{tab}_controlnet_units"] = units
    pasting = ctx.shared.setdefault(f"{tab}_paste_extra", [])  # modules/ui/paste_wiring.py fills these
    for i, unit in enumerate(units):
        pasting += [(unit[name], pasted(i, name)) for name in PASTED]


# Fields an infotext's `ControlNet i` entry carries (modules/controlnet/infotext.py), plus `enabled`.
PASTED = ("enabled", "module", "model", "weight", "resize_mode", "processor_res", "threshold_a", "threshold_b",
          "guidance_start", "guidance_end", "pixel_perfect", "control_mode")


def pasted(index: int, name: str):
    """params → the value of unit `index`'s field `name` in the pasted infotext (None: no entry, left as is)."""
    def value(params):
        from modules.controlnet.infotext import units_from_infotext

        unit = units_from_infotext(params).get(index)
        if unit is None:
            return None
        field = getattr(unit, name)
        return field.value if hasattr(field, "value") and not isinstance(field, (int, float)) else field
    return value


def _unit(ctx: UiContext, prefix: str) -> dict:
    reg = registry(ctx)
    c: dict = {}
    with gr.Row():
        c["image"] = gr.Image(label="Control image", type="pil", elem_id=f"{prefix}_input_image")
        c["mask"] = gr.Image(label="Mask (white = to fill; inpaint preprocessors)", type="pil", image_mode="L",
                             elem_id=f"{prefix}_mask_image")
        preview = gr.Image(label="Preprocessor preview", type="pil", interactive=False,
                           elem_id=f"{prefix}_generated_image")
    with gr.Row():
        c["enabled"] = gr.Checkbox(label="Enable", value=False, elem_id=f"{prefix}_{ELEM['enabled']}")
        c["low_vram"] = gr.Checkbox(label="Low VRAM", value=False, elem_id=f"{prefix}_{ELEM['low_vram']}")
        c["pixel_perfect"] = gr.Checkbox(label="Pixel Perfect", value=False,
                                         elem_id=f"{prefix}_{ELEM['pixel_perfect']}")
    control_type = gr.Radio(["All", *sorted(reg.tags())], value="All", label="Control Type",
                            elem_id=f"{prefix}_controlnet_type_filter_radio")
    with gr.Row():
        c["module"] = gr.Dropdown(label="Preprocessor", choices=[(p.choice_label, p.name) for p in reg.all()],
                                  value="none", elem_id=f"{prefix}_{ELEM['module']}")
        run = gr.Button("💥", elem_id=f"{prefix}_controlnet_trigger_preprocessor", scale=0, min_width=40)
        c["model"] = gr.Dropdown(label="Model", choices=model_choices(ctx), value="None",
                                 elem_id=f"{prefix}_{ELEM['model']}")
        refresh = gr.Button("🔄", elem_id=f"{prefix}_controlnet_refresh_models", scale=0, min_width=40)
    with gr.Row():
        c["weight"] = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Control Weight",
                                elem_id=f"{prefix}_{ELEM['weight']}")
        c["guidance_start"] = gr.Slider(0.0, 1.0, value=0.0, step=0.01, label="Starting Control Step",
                                        elem_id=f"{prefix}_{ELEM['guidance_start']}")
        c["guidance_end"] = gr.Slider(0.0, 1.0, value=1.0, step=0.01, label="Ending Control Step",
                                      elem_id=f"{prefix}_{ELEM['guidance_end']}")
    with gr.Row():  # threshold sliders start at -1: "the preprocessor's default" until one is chosen
        c["processor_res"] = gr.Slider(64, 2048, value=512, step=8, label="Preprocessor Resolution",
                                       elem_id=f"{prefix}_{ELEM['processor_res']}")
        c["threshold_a"] = gr.Slider(-1, 255, value=-1, step=0.01, label="Threshold A", visible=False,
                                     elem_id=f"{prefix}_{ELEM['threshold_a']}")
        c["threshold_b"] = gr.Slider(-1, 255, value=-1, step=0.01, label="Threshold B", visible=False,
                                     elem_id=f"{prefix}_{ELEM['threshold_b']}")
    c["control_mode"] = gr.Radio([m.value for m in ControlMode], value=ControlMode.BALANCED.value,
                                 label="Control Mode", elem_id=f"{prefix}_{ELEM['control_mode']}")
    c["resize_mode"] = gr.Radio([m.value for m in ResizeMode], value=ResizeMode.CROP_AND_RESIZE.value,
                                label="Resize Mode", elem_id=f"{prefix}_{ELEM['resize_mode']}")
    c["hr_option"] = gr.Radio([m.value for m in HiresOption], value=HiresOption.BOTH.value,
                              label="Hires-Fix Option", elem_id=f"{prefix}_{ELEM['hr_option']}")
    c["module"].change(lambda name: slider_updates(reg, name), inputs=c["module"],
                       outputs=[c["processor_res"], c["threshold_a"], c["threshold_b"]])
    refresh.click(lambda: gr.update(choices=model_choices(ctx)), outputs=c["model"])
    control_type.change(lambda tag: type_filter(reg, model_choices(ctx)[1:], tag), inputs=control_type,
                        outputs=[c["module"], c["model"]])
    run.click(lambda *v: preview_map(reg, *v), inputs=[c["module"], c["image"], c["mask"], c["processor_res"],
                                                        c["threshold_a"], c["threshold_b"]], outputs=preview)
    return c


def type_filter(reg, models: list[str], tag: str) -> list:
    """The Control Type radio: the preprocessors and models of that type, with the extension's defaults chosen."""
    from modules.api.controlnet import control_types

    entry = control_types(reg, models).get(tag) or control_types(reg, models)["All"]
    by_label = {p.shown_name: p for p in reg.all()}
    modules = [(by_label[label].choice_label, by_label[label].name) for label in entry["module_list"]
               if label in by_label]
    default = by_label.get(entry["default_option"])
    return [gr.update(choices=modules, value=default.name if default else "none"),
            gr.update(choices=entry["model_list"], value=entry["default_model"])]


def slider_updates(reg, name: str) -> list:
    """The three sliders shown, labelled and ranged as the chosen preprocessor defines them."""
    from modules.errors import EaselError

    try:
        pre = reg.get(name)
    except EaselError:
        return [gr.update(visible=False)] * 3
    out = []
    for slider in (pre.resolution, pre.slider_1, pre.slider_2):
        out.append(gr.update(visible=False) if slider is None else gr.update(
            visible=True, label=slider.label, minimum=slider.minimum, maximum=slider.maximum, step=slider.step,
            value=slider.value))
    return out


def preview_map(reg, module, image, mask, processor_res, threshold_a, threshold_b):
    """The preview button: the preprocessor's map of the uploaded image, as the generation will see it."""
    from modules.controlnet.detect import map_image, run_preprocessor
    from modules.errors import EaselError

    if image is None:
        raise gr.Error("Upload a control image first")
    try:
        detected = run_preprocessor(reg, module, image, mask, processor_res=processor_res,
                                    threshold_a=threshold_a, threshold_b=threshold_b, where="ControlNet")
    except EaselError as e:
        raise gr.Error(e.message) from None
    return map_image(detected)


def inputs(ctx: UiContext, tab: str) -> list:
    return [unit[name] for unit in ctx.shared.get(f"{tab}_controlnet_units", ()) for name in FIELDS]


def units_from_values(values) -> tuple[ControlUnit, ...]:
    """The accordion's values (in `inputs` order) → units; disabled units are kept so indices match the tabs."""
    units, values = [], list(values)
    for start in range(0, len(values), len(FIELDS)):
        v = dict(zip(FIELDS, values[start:start + len(FIELDS)]))
        units.append(ControlUnit(
            enabled=bool(v["enabled"]), module=v["module"] or "none", model=v["model"] or "None",
            weight=float(v["weight"]), image=v["image"].convert("RGB") if v["image"] is not None else None,
            mask=v["mask"].convert("L") if v["mask"] is not None and v["image"] is not None else None,
            resize_mode=ResizeMode(v["resize_mode"]), low_vram=bool(v["low_vram"]),
            processor_res=int(v["processor_res"]), threshold_a=float(v["threshold_a"]),
            threshold_b=float(v["threshold_b"]), guidance_start=float(v["guidance_start"]),
            guidance_end=float(v["guidance_end"]), pixel_perfect=bool(v["pixel_perfect"]),
            control_mode=ControlMode(v["control_mode"]), hr_option=HiresOption(v["hr_option"])))
    return tuple(units)


def request_units(ctx: UiContext, values, has_init_image: bool = False, has_mask: bool = False) -> tuple:
    """Checked, enabled units for the request; a problem is an EaselError naming the unit (shown above the
    gallery), never a generation without the unit."""
    from modules.api.controlnet import check_units

    units = units_from_values(values)
    if not any(u.enabled for u in units):
        return ()
    return check_units(ctx.app, units, has_init_image, has_mask)
