"""SD upscale (img2img): upscale the init image, redraw it tile by tile at the working size (width × height) and
blend the tiles back together over their overlap. Written only against A1111's script API."""
from __future__ import annotations

import math

import gradio as gr
from PIL import Image

import modules.scripts as scripts
from modules.errors import InvalidInput  # a user's bad argument: 422, not an extension fault
from modules.arg_checks import field, number
from modules import devices, images, processing, shared
from modules.processing import Processed
from modules.shared import opts, state


def upscaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The upscaled size, rounded down to multiples of 8 as A1111's upscalers do.

    >>> upscaled_size(64, 48, 2), upscaled_size(100, 100, 1.5)
    ((128, 96), (144, 144))
    """
    return int(width * scale) // 8 * 8, int(height * scale) // 8 * 8


def pick_upscaler(upscalers: list, choice):
    """An upscaler row by its index in the list (A1111's API) or by name."""
    if isinstance(choice, str) and not choice.isdigit():
        found = [u for u in upscalers if u.name.lower() == choice.lower()]
        if not found:
            raise InvalidInput(field(2, "Upscaler"), f"SD upscale: unknown upscaler {choice!r}",
                               ", ".join(u.name for u in upscalers))
        return found[0]
    index = int(choice or 0)
    if not 0 <= index < len(upscalers):
        raise InvalidInput(field(2, "Upscaler"), f"SD upscale: upscaler index {index} is out of range",
                           ", ".join(f"{i}: {u.name}" for i, u in enumerate(upscalers)))
    return upscalers[index]


class Script(scripts.Script):
    def title(self):
        return "SD upscale"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        info = gr.HTML("<p style=\"margin-bottom:0.75em\">Will upscale the image by the selected scale factor; use "
                       "width and height sliders to set tile size</p>")
        overlap = gr.Slider(minimum=0, maximum=256, step=16, label="Tile overlap", value=64,
                            elem_id=self.elem_id("overlap"))
        scale_factor = gr.Slider(minimum=1.0, maximum=4.0, step=0.05, label="Scale Factor", value=2.0,
                                 elem_id=self.elem_id("scale_factor"))
        names = [x.name for x in shared.sd_upscalers]
        upscaler_index = gr.Radio(label="Upscaler", choices=names, value=names[0] if names else None, type="index",
                                  elem_id=self.elem_id("upscaler_index"))
        return [info, overlap, upscaler_index, scale_factor]

    def run(self, p, _, overlap, upscaler_index, scale_factor):
        if isinstance(upscaler_index, str) and upscaler_index.isdigit():
            upscaler_index = int(upscaler_index)
        overlap = number(overlap, field(1, "Tile overlap"), 0, None, whole=True)
        scale_factor = number(scale_factor, field(3, "Scale Factor"), 1.0, 8.0)
        upscaler = pick_upscaler(shared.sd_upscalers, upscaler_index)
        processing.fix_seed(p)
        p.extra_generation_params["SD upscale overlap"] = overlap
        p.extra_generation_params["SD upscale upscaler"] = upscaler.name
        init_img = images.flatten(p.init_images[0], getattr(opts, "img2img_background_color", "#ffffff"))
        if upscaler.name != "None":
            init_img = images.resize_image(0, init_img, *upscaled_size(init_img.width, init_img.height,
                                                                      scale_factor),
                                           upscaler_name=upscaler.name)
        devices.torch_gc()
        grid = images.split_grid(init_img, tile_w=p.width, tile_h=p.height, overlap=overlap)
        batch_size, upscale_count, seed = p.batch_size, p.n_iter, p.seed
        p.n_iter = 1
        p.do_not_save_grid = True
        save_samples, p.do_not_save_samples = not p.do_not_save_samples, True
        work = [tile[2] for _y, _h, row in grid.tiles for tile in row]
        batch_count = math.ceil(len(work) / batch_size)
        state.job_count = batch_count * upscale_count
        print(f"SD upscaling will process a total of {len(work)} images tiled as {len(grid.tiles[0][2])}x"
              f"{len(grid.tiles)} per upscale in a total of {state.job_count} batches.")
        result_images, infotexts, initial_info = [], [], None
        for n in range(upscale_count):
            p.seed = seed + n
            work_results = []
            for i in range(batch_count):
                p.batch_size = batch_size
                p.init_images = work[i * batch_size:(i + 1) * batch_size]
                state.job = f"Batch {i + 1 + n * batch_count} out of {state.job_count}"
                processed = processing.process_images(p)
                if initial_info is None:
                    initial_info = processed.info
                p.seed = processed.seed + 1
                work_results += processed.images
            index = 0
            for _y, _h, row in grid.tiles:
                for tile in row:
                    tile[2] = work_results[index] if index < len(work_results) else Image.new("RGB", (p.width,
                                                                                                       p.height))
                    index += 1
            combined = images.combine_grid(grid)
            result_images.append(combined)
            infotexts.append(initial_info)
            if getattr(opts, "samples_save", True) and save_samples:
                images.save_image(combined, p.outpath_samples, "", seed + n, p.prompt,
                                  getattr(opts, "samples_format", "png"), info=initial_info, p=p)
        return Processed(p, result_images, seed, initial_info, all_seeds=[seed + n for n in range(upscale_count)],
                         infotexts=infotexts)
