"""A1111's `modules.img2img`: the function img2img's Generate button called, with its argument list.

As `modules.txt2img` (see there): for queue extensions that store a button's values by parameter name and run
them later. `mode` is the img2img tab A1111's page was on: 0 img2img, 1 sketch, 2 inpaint, 3 inpaint sketch,
4 inpaint with an uploaded mask; 5 (a batch from a folder or uploads) is refused: Easel runs batches through its
Batch tab and /easel/v1 jobs.
"""
from __future__ import annotations

from contextlib import closing

from modules.extensions.compat import processing, scripts, shared
from modules.extensions.compat.infotext_utils import create_override_settings_dict
from modules.extensions.compat.ui_common import plaintext_to_html


def _inpaint_sketch(image, orig, mask_alpha: float, mask_blur: int):
    """The sketched image blended into the original where the sketch changed it, and that change as the mask."""
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter

    orig = orig or image
    changed = np.any(np.array(image) != np.array(orig), axis=-1)  # [H, W] bool
    mask = Image.fromarray(changed.astype(np.uint8) * 255, "L")
    mask = ImageEnhance.Brightness(mask).enhance(1 - mask_alpha / 100)
    blur = ImageFilter.GaussianBlur(mask_blur)
    return Image.composite(image.filter(blur), orig, mask.filter(blur)), mask


def image_and_mask(mode: int, init_img, sketch, init_img_with_mask, inpaint_color_sketch, inpaint_color_sketch_orig,
                   init_img_inpaint, init_mask_inpaint, mask_alpha: float, mask_blur: int):
    """The init image and mask the tab `mode` gives, upright (EXIF orientation applied)."""
    from PIL import ImageOps

    from modules.errors import InvalidInput

    if mode == 0:
        image, mask = init_img, None
    elif mode == 1:
        image, mask = sketch, None
    elif mode == 2:
        image = init_img_with_mask["image"]
        mask = processing.create_binary_mask(init_img_with_mask["mask"])
    elif mode == 3:
        image, mask = _inpaint_sketch(inpaint_color_sketch, inpaint_color_sketch_orig, mask_alpha, mask_blur)
    elif mode == 4:
        image, mask = init_img_inpaint, init_mask_inpaint
    else:
        raise InvalidInput("mode", f"img2img mode {mode} is not run here",
                           "0-4 (batches: Easel's Batch tab or /easel/v1 jobs)")
    return (ImageOps.exif_transpose(image) if image is not None else None,
            ImageOps.exif_transpose(mask) if mask is not None else None)


def img2img(id_task: str, request, mode: int, prompt: str, negative_prompt: str, prompt_styles, init_img, sketch,
            init_img_with_mask, inpaint_color_sketch, inpaint_color_sketch_orig, init_img_inpaint, init_mask_inpaint,
            mask_blur: int, mask_alpha: float, inpainting_fill: int, n_iter: int, batch_size: int, cfg_scale: float,
            image_cfg_scale: float, denoising_strength: float, selected_scale_tab: int, height: int, width: int,
            scale_by: float, resize_mode: int, inpaint_full_res: bool, inpaint_full_res_padding: int,
            inpainting_mask_invert: int, img2img_batch_input_dir: str, img2img_batch_output_dir: str,
            img2img_batch_inpaint_mask_dir: str, override_settings_texts, img2img_batch_use_png_info: bool,
            img2img_batch_png_info_props: list, img2img_batch_png_info_dir: str, img2img_batch_source_type: str,
            img2img_batch_upload: list, *args):
    """Run one img2img call (the selected script's `run`, else `process_images`); A1111's four outputs."""
    from modules.errors import InvalidInput

    image, mask = image_and_mask(mode, init_img, sketch, init_img_with_mask, inpaint_color_sketch,
                                 inpaint_color_sketch_orig, init_img_inpaint, init_mask_inpaint, mask_alpha, mask_blur)
    if image is None:
        raise InvalidInput("init_img", "no image", "an image for the chosen img2img mode")
    if selected_scale_tab == 1:
        width, height = int(image.width * scale_by), int(image.height * scale_by)
    opts = shared.opts
    p = processing.StableDiffusionProcessingImg2Img(
        sd_model=shared.sd_model, outpath_samples=opts.outdir_samples or opts.outdir_img2img_samples,
        outpath_grids=opts.outdir_grids or opts.outdir_img2img_grids, prompt=prompt, negative_prompt=negative_prompt,
        styles=list(prompt_styles or []), batch_size=batch_size, n_iter=n_iter, cfg_scale=cfg_scale, width=width,
        height=height, init_images=[image], mask=mask, mask_blur=mask_blur, inpainting_fill=inpainting_fill,
        resize_mode=resize_mode, denoising_strength=denoising_strength, image_cfg_scale=image_cfg_scale,
        inpaint_full_res=inpaint_full_res, inpaint_full_res_padding=inpaint_full_res_padding,
        inpainting_mask_invert=inpainting_mask_invert,
        override_settings=create_override_settings_dict(override_settings_texts or []))
    p.scripts, p.script_args, p.user = scripts.scripts_img2img, args, getattr(request, "username", None)
    with closing(p):
        processed = scripts.scripts_img2img.run(p, *args) if scripts.scripts_img2img else None
        if processed is None:
            processed = processing.process_images(p)
    return (processed.images, processed.js(), plaintext_to_html(processed.info),
            plaintext_to_html(processed.comments, classname="comments"))
