"""SD upscale (A1111's script): upscale the init image, redraw it tile by tile with img2img at the working size,
and blend the tiles back together. Written as a function of plain values so the script stays thin."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.convert import flatten, parse_background
from modules.pipeline.img2img import run_img2img
from modules.pipeline.img2img_request import Img2ImgRequest, as_image
from modules.imaging.saving import jpeg_copy_setting
from modules.pipeline.result import GenerationResult
from modules.pipeline.seeds import fix_seed
from modules.upscalers.grid import combine_grid, split_grid


def run_sd_upscale(services, req: Img2ImgRequest, opts, job, upscaler: str = "None", scale_factor: float = 2.0,
                   overlap: int = 64) -> GenerationResult:
    """One combined image per batch count; tiles go through img2img `batch_size` at a time, seeds counting up."""
    if not 1.0 <= scale_factor <= 8.0:
        raise InvalidInput("scale_factor", f"{scale_factor} is out of range", "1 to 8")
    image = flatten(as_image(req.init_images[0], "init_images[0]"), parse_background(opts.img2img_background_color))
    if upscaler and upscaler != "None":
        image = services.upscalers.upscale(image, upscaler, scale_factor, opts.ESRGAN_tile, opts.ESRGAN_tile_overlap)
    grid = split_grid(image, req.width, req.height, overlap)
    tiles = grid.tiles()
    seed = fix_seed(req.seed)
    combined: list[Image.Image] = []
    infotexts: list[str] = []
    saved: list[Path] = []
    seeds: list[int] = []
    first_info: dict[str, Any] = {}
    for n in range(req.n_iter):
        results, tile_seed = [], seed + n
        for start in range(0, len(tiles), req.batch_size):
            chunk = tiles[start:start + req.batch_size]
            tile_req = req.replace(init_images=tuple(chunk), batch_size=len(chunk), n_iter=1, seed=tile_seed,
                                   mask=None, resize_mode=0, save_images=False,
                                   do_not_save_grid=True)
            result = run_img2img(services, tile_req, opts, job)
            tile_seed = result.all_seeds[-1] + 1
            results.extend(result.images)
            if not infotexts:
                infotexts, first_info = result.infotexts[:1], result.info
            if job.interrupted:
                break
        grid.replace_tiles(results)
        image_out = combine_grid(grid)
        image_out.info["parameters"] = infotexts[0] if infotexts else ""
        combined.append(image_out)
        seeds.append(seed + n)
        if req.save_images and infotexts:
            folder = services.paths.data_dir / opts.outdir_img2img_samples
            saved.append(services.saver.save_image(image_out, folder, seed=seed + n, infotext=infotexts[0],
                                                   fmt=opts.samples_format, jpeg_copy=jpeg_copy_setting(opts)))
    texts = [infotexts[0] if infotexts else ""] * len(combined)
    return GenerationResult(images=combined, infotexts=texts, all_prompts=[req.prompt] * len(combined),
                            all_negative_prompts=[req.negative_prompt] * len(combined), all_seeds=seeds,
                            all_subseeds=seeds, info={**first_info, "infotexts": texts, "all_seeds": seeds,
                                                      "width": grid.image_w, "height": grid.image_h},
                            saved_paths=saved, interrupted=job.interrupted)
