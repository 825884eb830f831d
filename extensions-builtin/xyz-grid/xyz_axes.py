"""X/Y/Z plot's axes in A1111 1.10's order (API clients address them by index into the list filtered for their tab;
other extensions append to `axis_options`): how each sets its value on `p`, formats its label and checks its values.
Axes Easel cannot honour are listed, so indices stay A1111's, and refuse to run with a clear message
(docs/scripts.md has both tabs' tables)."""
from __future__ import annotations

import os

from modules import sd_models, sd_samplers, sd_schedulers, sd_vae, shared
from xyz_values import reorder_tokens, replace_in_prompts


def apply_field(field):
    def apply(p, x, xs):
        setattr(p, field, x)
    return apply


def apply_override(field, boolean: bool = False):
    def apply(p, x, xs):
        p.override_settings[field] = (str(x).lower() == "true") if boolean else x
    return apply


def apply_prompt(p, x, xs):
    p.prompt, p.negative_prompt = replace_in_prompts(p.prompt, p.negative_prompt, xs[0], x)


def apply_order(p, x, xs):
    p.prompt = reorder_tokens(p.prompt, x)


def apply_checkpoint(p, x, xs):
    info = sd_models.get_closet_checkpoint_match(x)
    if info is None:
        raise RuntimeError(f"Unknown checkpoint: {x}")
    p.override_settings["sd_model_checkpoint"] = info.name


def apply_vae(p, x, xs):
    name = x.strip().lower()
    if name in ("auto", "automatic"):
        p.override_settings["sd_vae"] = "Automatic"
    elif name == "none":
        p.override_settings["sd_vae"] = "None"
    else:
        p.override_settings["sd_vae"] = next((k for k in sd_vae.vae_dict if k.lower() == name), "Automatic")


def apply_size(p, x, xs):
    width, _, height = x.partition("x")
    try:
        p.width, p.height = int(width.strip()), int(height.strip())
    except ValueError:
        raise RuntimeError(f"Size {x!r} is not WIDTHxHEIGHT, e.g. 512x768") from None


def apply_uni_pc_order(p, x, xs):
    p.override_settings["uni_pc_order"] = min(x, p.steps - 1)


def apply_styles(p, x, xs):
    p.styles.extend(s.strip() for s in x.split(","))


def apply_face_restore(p, x, xs):
    """A1111's values: CodeFormer or GFPGAN turn restoration on with that model, true/yes/y/1 turn it on with the
    model of the settings, anything else turns it off."""
    value = x.strip().lower()
    models = {"codeformer": "CodeFormer", "gfpgan": "GFPGAN"}
    if value in models:
        p.override_settings["face_restoration_model"] = models[value]
    p.restore_faces = value in models or value in ("true", "yes", "y", "1")


def do_nothing(p, x, xs):
    pass


def confirm_samplers(p, xs):
    for x in xs:
        if x.lower() not in sd_samplers.samplers_map:
            raise RuntimeError(f"Unknown sampler: {x}")


def confirm_checkpoints(p, xs):
    for x in xs:
        if sd_models.get_closet_checkpoint_match(x) is None:
            raise RuntimeError(f"Unknown checkpoint: {x}")


def confirm_checkpoints_or_none(p, xs):
    for x in xs:
        if x in (None, "", "None", "none"):
            continue
        if sd_models.get_closet_checkpoint_match(x) is None:
            raise RuntimeError(f"Unknown checkpoint: {x}")


def confirm_prompt_sr(p, xs):
    replace_in_prompts(p.prompt, p.negative_prompt, xs[0], xs[0])


def confirm_prompt_order(p, xs):
    reorder_tokens(p.prompt, xs[0])


def confirm_range(low, high, label):
    """A1111's check that every value of a numeric axis lies in [low, high]."""
    def confirm(p, xs):
        for x in xs:
            if not low <= x <= high:
                raise ValueError(f"{label} value {x} out of range {low} to {high}")
    return confirm


def format_value_add_label(p, opt, x):
    return f"{opt.label}: {round(x, 8) if isinstance(x, float) else x}"


def format_value(p, opt, x):
    return round(x, 8) if isinstance(x, float) else x


def format_value_join_list(p, opt, x):
    return ", ".join(x)


def format_nothing(p, opt, x):
    return ""


def format_remove_path(p, opt, x):
    return os.path.basename(x)


def str_permutations(x):
    """Marks the Prompt order axis, whose values are every ordering of the given tokens."""
    return x


def boolean_choice(reverse: bool = False):
    return lambda: ["False", "True"] if reverse else ["True", "False"]


class AxisOption:
    def __init__(self, label, type, apply, format_value=format_value_add_label, confirm=None, cost=0.0,
                 choices=None, prepare=None):
        self.label, self.type, self.apply, self.format_value = label, type, apply, format_value
        self.confirm, self.cost, self.choices, self.prepare = confirm, cost, choices, prepare
        self.is_img2img = None  # both tabs


class AxisOptionImg2Img(AxisOption):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_img2img = True


class AxisOptionTxt2Img(AxisOption):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_img2img = False


def _sampler_names():
    return sd_samplers.visible_sampler_names()


axis_options = [
    AxisOption("Nothing", str, do_nothing, format_value=format_nothing),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Var. seed", int, apply_field("subseed")),
    AxisOption("Var. strength", float, apply_field("subseed_strength")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOptionTxt2Img("Hires steps", int, apply_field("hr_second_pass_steps")),
    AxisOption("CFG Scale", float, apply_field("cfg_scale")),
    AxisOptionImg2Img("Image CFG Scale", float, apply_field("image_cfg_scale")),
    AxisOption("Prompt S/R", str, apply_prompt, format_value=format_value, confirm=confirm_prompt_sr),
    AxisOption("Prompt order", str_permutations, apply_order, format_value=format_value_join_list,
               confirm=confirm_prompt_order),
    AxisOptionTxt2Img("Sampler", str, apply_field("sampler_name"), format_value=format_value,
                      confirm=confirm_samplers, choices=_sampler_names),
    AxisOptionTxt2Img("Hires sampler", str, apply_field("hr_sampler_name"), confirm=confirm_samplers,
                      choices=_sampler_names),
    AxisOptionImg2Img("Sampler", str, apply_field("sampler_name"), format_value=format_value,
                      confirm=confirm_samplers, choices=_sampler_names),
    AxisOption("Checkpoint name", str, apply_checkpoint, format_value=format_remove_path,
               confirm=confirm_checkpoints, cost=1.0,
               choices=lambda: sorted(sd_models.checkpoints_list, key=str.casefold)),
    AxisOption("Negative Guidance minimum sigma", float, apply_field("s_min_uncond")),
    AxisOption("Sigma Churn", float, apply_field("s_churn")),
    AxisOption("Sigma min", float, apply_field("s_tmin")),
    AxisOption("Sigma max", float, apply_field("s_tmax")),
    AxisOption("Sigma noise", float, apply_field("s_noise")),
    AxisOption("Schedule type", str, apply_field("scheduler"),
               choices=lambda: [s.label for s in sd_schedulers.schedulers]),
    AxisOption("Schedule min sigma", float, apply_override("sigma_min")),
    AxisOption("Schedule max sigma", float, apply_override("sigma_max")),
    AxisOption("Schedule rho", float, apply_override("rho")),
    AxisOption("Beta schedule alpha", float, apply_override("beta_dist_alpha")),
    AxisOption("Beta schedule beta", float, apply_override("beta_dist_beta")),
    AxisOption("Eta", float, apply_field("eta")),
    AxisOption("Clip skip", int, apply_override("CLIP_stop_at_last_layers")),
    AxisOption("Denoising", float, apply_field("denoising_strength")),
    AxisOption("Initial noise multiplier", float, apply_field("initial_noise_multiplier")),
    AxisOption("Extra noise", float, apply_override("img2img_extra_noise")),
    AxisOptionTxt2Img("Hires upscaler", str, apply_field("hr_upscaler"),
                      choices=lambda: [x.name for x in shared.sd_upscalers]),
    AxisOptionImg2Img("Cond. Image Mask Weight", float, apply_override("inpainting_mask_weight")),
    AxisOption("VAE", str, apply_vae, cost=0.7, choices=lambda: ["Automatic", "None"] + list(sd_vae.vae_dict)),
    AxisOption("Styles", str, apply_styles, choices=lambda: list(shared.prompt_styles.styles)),
    AxisOption("UniPC Order", int, apply_uni_pc_order, cost=0.5),
    AxisOption("Face restore", str, apply_face_restore, format_value=format_value),
    AxisOption("Token merging ratio", float, apply_override("token_merging_ratio"),
               confirm=confirm_range(0.0, 0.9, "Token merging ratio")),
    AxisOption("Token merging ratio high-res", float, apply_override("token_merging_ratio_hr"),
               confirm=confirm_range(0.0, 0.9, "Token merging ratio high-res")),
    AxisOption("Always discard next-to-last sigma", str, apply_override("always_discard_next_to_last_sigma", True),
               choices=boolean_choice(reverse=True)),
    AxisOption("SGM noise multiplier", str, apply_override("sgm_noise_multiplier", True),
               choices=boolean_choice(reverse=True)),
    AxisOption("Refiner checkpoint", str, apply_field("refiner_checkpoint"), format_value=format_remove_path,
               confirm=confirm_checkpoints_or_none, cost=1.0,
               choices=lambda: ["None", *sorted(sd_models.checkpoints_list, key=str.casefold)]),
    AxisOption("Refiner switch at", float, apply_field("refiner_switch_at")),
    AxisOption("RNG source", str, apply_override("randn_source"), choices=lambda: ["GPU", "CPU"]),
    AxisOption("FP8 mode", str, apply_override("fp8_storage"), cost=0.9,
               choices=lambda: ["Disable", "Enable for SDXL", "Enable"]),
    AxisOption("Size", str, apply_size),
    # what A1111's built-in Hypertile extension appends before any other extension's axes
    AxisOption("[Hypertile] Unet First pass Enabled", str, apply_override("hypertile_enable_unet", True),
               choices=boolean_choice(reverse=True)),
    AxisOption("[Hypertile] Unet Second pass Enabled", str, apply_override("hypertile_enable_unet_secondpass", True),
               choices=boolean_choice(reverse=True)),
    AxisOption("[Hypertile] Unet Max Depth", int, apply_override("hypertile_max_depth_unet"),
               confirm=confirm_range(0, 3, "[Hypertile] Unet Max Depth"), choices=lambda: [str(x) for x in range(4)]),
    AxisOption("[Hypertile] Unet Max Tile Size", int, apply_override("hypertile_max_tile_unet"),
               confirm=confirm_range(0, 512, "[Hypertile] Unet Max Tile Size")),
    AxisOption("[Hypertile] Unet Swap Size", int, apply_override("hypertile_swap_size_unet"),
               confirm=confirm_range(0, 64, "[Hypertile] Unet Swap Size")),
    AxisOption("[Hypertile] VAE Enabled", str, apply_override("hypertile_enable_vae", True),
               choices=boolean_choice(reverse=True)),
    AxisOption("[Hypertile] VAE Max Depth", int, apply_override("hypertile_max_depth_vae"),
               confirm=confirm_range(0, 3, "[Hypertile] VAE Max Depth"), choices=lambda: [str(x) for x in range(4)]),
    AxisOption("[Hypertile] VAE Max Tile Size", int, apply_override("hypertile_max_tile_vae"),
               confirm=confirm_range(0, 512, "[Hypertile] VAE Max Tile Size")),
    AxisOption("[Hypertile] VAE Swap Size", int, apply_override("hypertile_swap_size_vae"),
               confirm=confirm_range(0, 64, "[Hypertile] VAE Swap Size")),
    # Nothing of Easel's own goes here: axes other extensions append (ControlNet's, …) must get A1111's indices too
]

# Easel's own axes: listed after every extension's (scripts/xyz_grid.py `options_for`), so those keep A1111's indices
easel_axis_options = [
    AxisOption("DeepCache interval", int, apply_override("deep_cache_interval"),
               confirm=confirm_range(1, 10, "DeepCache interval")),
]

# sd-webui-controlnet's axes (ControlNet is built in): appended after A1111's own, where that extension appends them
from xyz_controlnet import controlnet_axes  # noqa: E402

axis_options.extend(controlnet_axes(AxisOption, boolean_choice))
