"""Outpainting mk2 (img2img): extend one side at a time; the new strip is first filled with noise shaped like the
image's own spectrum (fall-off exponent, colour variation) and histogram-matched to it, then inpainted with the
original pixels kept. Written only against A1111's script API (`images.get_matched_noise` is where Easel keeps
the noise maths that A1111 carried inside this script)."""
from __future__ import annotations

import math

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

import modules.scripts as scripts
from modules import images
from modules.arg_checks import field, number, subset
from modules.processing import Processed, process_images
from modules.shared import opts, state

DIRECTIONS = ("left", "right", "up", "down")


def side_sizes(size: tuple[int, int], pixels: int, directions) -> tuple[int, int, int, int]:
    """(left, right, up, down) pixels to add: `pixels` per chosen side, the rounding of the new size up to a
    multiple of 64 shared between opposite sides.

    >>> side_sizes((64, 64), 32, ["right", "down"])
    (0, 64, 0, 64)
    >>> side_sizes((100, 100), 8, ["left", "right"])
    (14, 14, 0, 0)
    """
    w, h = size
    left, right, up, down = (pixels if d in directions else 0 for d in DIRECTIONS)
    target_w, target_h = math.ceil((w + left + right) / 64) * 64, math.ceil((h + up + down) / 64) * 64
    if left > 0:
        left = left * (target_w - w) // (left + right)
    if right > 0:
        right = target_w - w - left
    if up > 0:
        up = up * (target_h - h) // (up + down)
    if down > 0:
        down = target_h - h - up
    return left, right, up, down


def strip_mask(size, res_w, res_h, pixels, blur, side: str, extent=None) -> Image.Image:
    """White (repaint) over the new strip on `side` and `blur` pixels into the image; black elsewhere. `extent` is
    the canvas the far sides are measured from (A1111 draws the smaller latent mask with the canvas's sides).

    >>> strip_mask((64, 64), 64, 128, 64, 8, "down", extent=(64, 128)).getpixel((0, 55))
    (0, 0, 0)
    """
    far_w, far_h = extent or size
    mask = Image.new("RGB", size, "white")
    ImageDraw.Draw(mask).rectangle((pixels + blur if side == "left" else 0, pixels + blur if side == "up" else 0,
                                    far_w - pixels - blur if side == "right" else res_w,
                                    far_h - pixels - blur if side == "down" else res_h), fill="black")
    return mask


class Script(scripts.Script):
    def title(self):
        return "Outpainting mk2"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        if not is_img2img:
            return None
        info = gr.HTML("<p style=\"margin-bottom:0.75em\">Recommended settings: Sampling Steps: 80-100, Sampler: Euler "
                       "a, Denoising strength: 0.8</p>")
        pixels = gr.Slider(label="Pixels to expand", minimum=8, maximum=256, step=8, value=128,
                           elem_id=self.elem_id("pixels"))
        mask_blur = gr.Slider(label="Mask blur", minimum=0, maximum=64, step=1, value=8,
                              elem_id=self.elem_id("mask_blur"))
        direction = gr.CheckboxGroup(label="Outpainting direction", choices=list(DIRECTIONS), value=list(DIRECTIONS),
                                     elem_id=self.elem_id("direction"))
        noise_q = gr.Slider(label="Fall-off exponent (lower=higher detail)", minimum=0.0, maximum=4.0, step=0.01,
                            value=1.0, elem_id=self.elem_id("noise_q"))
        color_variation = gr.Slider(label="Color variation", minimum=0.0, maximum=1.0, step=0.01, value=0.05,
                                    elem_id=self.elem_id("color_variation"))
        return [info, pixels, mask_blur, direction, noise_q, color_variation]

    def expand(self, p, init, pixels, mask_blur, side, noise_q, color_variation, work_size, first):
        """One side: every image of the batch grown by `pixels` on `side`, the strip inpainted."""
        horizontal = side in ("left", "right")
        grow_w, grow_h = (pixels, 0) if horizontal else (0, pixels)
        outputs, to_process = [], []
        for image in init:
            res_w, res_h = image.width + grow_w, image.height + grow_h
            canvas = Image.new("RGB", (math.ceil(res_w / 64) * 64, math.ceil(res_h / 64) * 64))
            canvas.paste(image, (grow_w if side == "left" else 0, grow_h if side == "up" else 0))
            mask = strip_mask(canvas.size, res_w, res_h, pixels, mask_blur, side)
            noised = images.get_matched_noise(np.asarray(canvas) / 255.0, np.asarray(mask) / 255.0, noise_q,
                                              color_variation)
            outputs.append(Image.fromarray(np.clip(noised * 255.0, 0, 255).astype(np.uint8), mode="RGB"))
            target_w = min(work_size[0], image.width + grow_w) if horizontal else canvas.width
            target_h = min(work_size[1], image.height + grow_h) if not horizontal else canvas.height
            p.width, p.height = target_w, target_h
            crop = (0 if side == "left" else canvas.width - target_w, 0 if side == "up" else canvas.height - target_h,
                    target_w if side == "left" else canvas.width, target_h if side == "up" else canvas.height)
            p.image_mask = mask.crop(crop)
            to_process.append(outputs[-1].crop(crop))
        p.init_images = to_process
        p.latent_mask = strip_mask((p.width, p.height), res_w, res_h, pixels, mask_blur * 2, side, canvas.size)
        processed = process_images(p)
        if first[0] is None:
            first[:] = [processed.seed, processed.info]
        for n, image in enumerate(init):
            done = processed.images[n]
            outputs[n].paste(done, (0 if side == "left" else outputs[n].width - done.width,
                                    0 if side == "up" else outputs[n].height - done.height))
            outputs[n] = outputs[n].crop((0, 0, image.width + grow_w, image.height + grow_h))
        return outputs

    def run(self, p, _, pixels, mask_blur, direction, noise_q, color_variation):
        pixels = number(pixels, field(1, "Pixels to expand"), 1, 2048, whole=True)
        mask_blur = number(mask_blur, field(2, "Mask blur"), 0, 256, whole=True)
        direction = subset(direction, field(3, "Outpainting direction"), DIRECTIONS)
        noise_q = number(noise_q, field(4, "Fall-off exponent (lower=higher detail)"), 0.0, None)
        color_variation = number(color_variation, field(5, "Color variation"), 0.0, 1.0)
        work_size = (p.width, p.height)
        p.mask_blur = mask_blur * 4
        p.inpaint_full_res = False
        p.inpainting_fill = 1
        p.do_not_save_grid = True
        save_samples, p.do_not_save_samples = not p.do_not_save_samples, True
        init_img = p.init_images[0]
        sides = dict(zip(DIRECTIONS, side_sizes(init_img.size, pixels, direction or [])))
        batch_count, batch_size = p.n_iter, p.batch_size
        p.n_iter = 1
        state.job_count = batch_count * sum(1 for v in sides.values() if v > 0)
        first, all_images = [None, None], []
        for i in range(batch_count):
            state.job = f"Batch {i + 1} out of {batch_count}"
            batch = [init_img] * batch_size
            for side in DIRECTIONS:
                if sides[side] > 0 and not state.interrupted:
                    batch = self.expand(p, batch, sides[side], mask_blur, side, noise_q, color_variation, work_size,
                                        first)
            all_images += batch
        result_images = list(all_images)
        grid = images.image_grid(all_images)
        if getattr(opts, "return_grid", True) and len(all_images) > 1:
            result_images = [grid] + all_images
        res = Processed(p, result_images, first[0], first[1])
        if save_samples and getattr(opts, "samples_save", True):
            for image in all_images:
                images.save_image(image, p.outpath_samples, "", res.seed, p.prompt,
                                  getattr(opts, "samples_format", "png"), info=res.info, p=p)
        if save_samples and getattr(opts, "grid_save", True) and len(all_images) > 1:
            images.save_image(grid, p.outpath_grids, "grid", res.seed, p.prompt, getattr(opts, "grid_format", "png"),
                              info=res.info, short_filename=True, grid=True, p=p)
        return res
