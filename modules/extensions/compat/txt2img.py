"""A1111's `modules.txt2img`: the function txt2img's Generate button called, with its argument list.

Queue extensions look its parameters up by name (`inspect.getfullargspec`) to store a button's values as named
fields, and call it to run them later (sd-webui-agent-scheduler). Easel's own Generate button builds a typed
request instead (modules/ui/requests.py); this is the A1111 entry for extensions that call it. `*args` are the
script arguments in Easel's layout (`scripts.scripts_txt2img`: args[0] the selected script's index, then each
script's `args_from:args_to` slice); steps, sampler and seed are not in A1111's list either (A1111 took them from
its built-in scripts' arguments): set them on the returned `p`.
"""
from __future__ import annotations

from contextlib import closing

from modules.extensions.compat import processing, scripts, shared
from modules.extensions.compat.infotext_utils import create_override_settings_dict
from modules.extensions.compat.ui_common import plaintext_to_html

SAME = {"hr_checkpoint_name": "Use same checkpoint", "hr_sampler_name": "Use same sampler",
        "hr_scheduler": "Use same scheduler"}  # the hires fix dropdowns' "no change" entries


def txt2img_create_processing(id_task: str, request, prompt: str, negative_prompt: str, prompt_styles, n_iter: int,
                              batch_size: int, cfg_scale: float, height: int, width: int, enable_hr: bool,
                              denoising_strength: float, hr_scale: float, hr_upscaler: str,
                              hr_second_pass_steps: int, hr_resize_x: int, hr_resize_y: int,
                              hr_checkpoint_name: str, hr_sampler_name: str, hr_scheduler: str, hr_prompt: str,
                              hr_negative_prompt, override_settings_texts, *args, force_enable_hr=False):
    """The `p` of one txt2img call, with the scripts of txt2img and `args` as their arguments."""
    opts = shared.opts
    hires = {"hr_checkpoint_name": hr_checkpoint_name, "hr_sampler_name": hr_sampler_name,
             "hr_scheduler": hr_scheduler}
    p = processing.StableDiffusionProcessingTxt2Img(
        sd_model=shared.sd_model, outpath_samples=opts.outdir_samples or opts.outdir_txt2img_samples,
        outpath_grids=opts.outdir_grids or opts.outdir_txt2img_grids, prompt=prompt, styles=list(prompt_styles or []),
        negative_prompt=negative_prompt, batch_size=batch_size, n_iter=n_iter, cfg_scale=cfg_scale, width=width,
        height=height, enable_hr=bool(enable_hr or force_enable_hr), denoising_strength=denoising_strength,
        hr_scale=hr_scale, hr_upscaler=hr_upscaler, hr_second_pass_steps=hr_second_pass_steps,
        hr_resize_x=hr_resize_x, hr_resize_y=hr_resize_y, hr_prompt=hr_prompt, hr_negative_prompt=hr_negative_prompt,
        override_settings=create_override_settings_dict(override_settings_texts or []),
        **{key: None if value == SAME[key] else value for key, value in hires.items()})
    p.scripts = scripts.scripts_txt2img
    p.script_args = args
    p.user = getattr(request, "username", None)
    return p


def txt2img(id_task: str, request, *args):
    """Run one txt2img call: the selected script's `run`, else `process_images`. Returns A1111's four outputs:
    the images, the generation info as JSON, the infotext and the comments as HTML."""
    p = txt2img_create_processing(id_task, request, *args)
    with closing(p):
        processed = scripts.scripts_txt2img.run(p, *p.script_args) if scripts.scripts_txt2img else None
        if processed is None:
            processed = processing.process_images(p)
    return (processed.images, processed.js(), plaintext_to_html(processed.info),
            plaintext_to_html(processed.comments, classname="comments"))
