"""Poor man's outpainting (img2img): grow the canvas towards the chosen sides (to multiples of 64), then inpaint
only the tiles that touch the new area and blend the tiles back. Written only against A1111's script API."""
from __future__ import annotations

import math

import gradio as gr
from PIL import Image, ImageDraw

import modules.scripts as scripts
from modules import devices, images
from modules.arg_checks import field, index_or_choice, number, subset
from modules.processing import Processed, process_images
from modules.shared import opts, state

DIRECTIONS = ("left", "right", "up", "down")
FILLS = ("fill", "original", "latent noise", "latent nothing")  # A1111's inpainting_fill values 0-3


def expansion(size: tuple[int, int], pixels: int, directions) -> tuple[int, int, int, int, int, int]:
    """(target_w, target_h, left, right, up, down): the canvas grows by `pixels` towards each chosen side, rounded
    up to multiples of 64 and the rounding shared between opposite sides.

    >>> expansion((64, 64), 32, ["right"])
    (128, 64, 0, 64, 0, 0)
    >>> expansion((100, 60), 16, DIRECTIONS)
    (192, 128, 46, 46, 34, 34)
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
    return target_w, target_h, left, right, up, down


def keep_mask(size: tuple[int, int], left: int, right: int, up: int, down: int, margin: int) -> Image.Image:
    """White (repaint) everywhere but the original image, pulled back by `margin` on the sides that grew."""
    width, height = size
    mask = Image.new("L", size, "white")
    ImageDraw.Draw(mask).rectangle((left + (margin if left else 0), up + (margin if up else 0),
                                    width - right - (margin if right else 0), height - down - (margin if down else 0)),
                                   fill="black")
    return mask


class Script(scripts.Script):
    def title(self):
        return "Poor man's outpainting"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        if not is_img2img:
            return None
        pixels = gr.Slider(label="Pixels to expand", minimum=8, maximum=256, step=8, value=128,
                           elem_id=self.elem_id("pixels"))
        mask_blur = gr.Slider(label="Mask blur", minimum=0, maximum=64, step=1, value=4,
                              elem_id=self.elem_id("mask_blur"))
        inpainting_fill = gr.Radio(label="Masked content", choices=list(FILLS), value="fill", type="index",
                                   elem_id=self.elem_id("inpainting_fill"))
        direction = gr.CheckboxGroup(label="Outpainting direction", choices=list(DIRECTIONS), value=list(DIRECTIONS),
                                     elem_id=self.elem_id("direction"))
        return [pixels, mask_blur, inpainting_fill, direction]

    def run(self, p, pixels, mask_blur, inpainting_fill, direction):
        pixels = number(pixels, field(0, "Pixels to expand"), 1, 2048, whole=True)
        mask_blur = number(mask_blur, field(1, "Mask blur"), 0, 256, whole=True)
        inpainting_fill = index_or_choice(inpainting_fill, field(2, "Masked content"), FILLS)
        direction = subset(direction, field(3, "Outpainting direction"), DIRECTIONS)
        p.mask_blur = mask_blur * 2
        p.inpainting_fill = inpainting_fill
        p.inpaint_full_res = False
        init_img = p.init_images[0]
        target_w, target_h, left, right, up, down = expansion(init_img.size, pixels, direction or [])
        img = Image.new("RGB", (target_w, target_h))
        img.paste(init_img, (left, up))
        mask = keep_mask(img.size, left, right, up, down, mask_blur * 2)
        latent_mask = keep_mask(img.size, left, right, up, down, mask_blur // 2)
        devices.torch_gc()
        grid = images.split_grid(img, tile_w=p.width, tile_h=p.height, overlap=pixels)
        grid_mask = images.split_grid(mask, tile_w=p.width, tile_h=p.height, overlap=pixels)
        grid_latent_mask = images.split_grid(latent_mask, tile_w=p.width, tile_h=p.height, overlap=pixels)
        p.n_iter = p.batch_size = 1
        p.do_not_save_grid = True
        save_samples, p.do_not_save_samples = not p.do_not_save_samples, True

        def inside(x, w, y, h):  # a tile within the original image needs no work
            return x >= left and x + w <= img.width - right and y >= up and y + h <= img.height - down

        work = []
        for (y, h, row), (_, _, row_mask), (_, _, row_latent) in zip(grid.tiles, grid_mask.tiles,
                                                                      grid_latent_mask.tiles):
            for tile, tile_mask, tile_latent in zip(row, row_mask, row_latent):
                if not inside(tile[0], tile[1], y, h):
                    work.append((tile[2], tile_mask[2], tile_latent[2]))
        print(f"Poor man's outpainting will process a total of {len(work)} images tiled as "
              f"{len(grid.tiles[0][2])}x{len(grid.tiles)}.")
        state.job_count = len(work)
        results, initial_seed, initial_info = [], None, None
        for i, (tile, tile_mask, tile_latent) in enumerate(work):
            p.init_images, p.image_mask, p.latent_mask = [tile], tile_mask, tile_latent
            state.job = f"Batch {i + 1} out of {len(work)}"
            processed = process_images(p)
            if initial_seed is None:
                initial_seed, initial_info = processed.seed, processed.info
            p.seed = processed.seed + 1
            results += processed.images
        index = 0
        for y, h, row in grid.tiles:
            for tile in row:
                if inside(tile[0], tile[1], y, h):
                    continue
                tile[2] = results[index] if index < len(results) else Image.new("RGB", (p.width, p.height))
                index += 1
        combined = images.combine_grid(grid)
        if getattr(opts, "samples_save", True) and save_samples:
            images.save_image(combined, p.outpath_samples, "", initial_seed, p.prompt,
                              getattr(opts, "samples_format", "png"), info=initial_info, p=p)
        return Processed(p, [combined], initial_seed, initial_info)
