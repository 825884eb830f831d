"""A1111's `modules.images`: saving with file name patterns and the save callbacks, grids and their labels, tiles,
resizing and metadata — thin views onto modules/imaging and modules/upscalers.

Settings are read through `shared.opts` when the App is bound, else A1111's defaults are used, so the pure
helpers work in an extension's tests without an App.
"""
from __future__ import annotations

import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path

from PIL import Image

from modules.extensions.compat import binding
from modules.imaging import grids
from modules.imaging import saving as core_saving
from modules.imaging.background import flatten as _flatten
from modules.imaging.background import parse_background
from modules.imaging.filename_pattern import apply_pattern
from modules.imaging.grids import GridAnnotation  # noqa: F401  (A1111 name)
from modules.imaging.metadata import image_with_infotext_bytes, read_image_metadata
from modules.imaging.save_naming import SavingSettings
from modules.imaging.resize import resize_image as _resize_image
from modules.upscalers import grid as core_grid

LANCZOS = Image.Resampling.LANCZOS
NEAREST = Image.Resampling.NEAREST
Grid = namedtuple("Grid", ["tiles", "tile_w", "tile_h", "image_w", "image_h", "overlap"])
invalid_filename_chars = core_saving.INVALID_FILENAME_CHARS
invalid_filename_prefix = core_saving.INVALID_FILENAME_PREFIX
invalid_filename_postfix = core_saving.INVALID_FILENAME_POSTFIX
max_filename_part_length = core_saving.MAX_FILENAME_PART_LENGTH


def _opt(key: str, default):
    """A setting by A1111 name, or A1111's default when Easel has no such setting or no App is bound."""
    if not binding.is_bound():
        return default
    from modules.extensions.compat.shared import opts

    return getattr(opts, key, default)


class _Settings:
    """`.get(key, default)` over `_opt`, for readers of several settings (core_saving.jpeg_copy_setting)."""

    def get(self, key: str):
        return _opt(key, None)


def _callbacks():
    from modules.extensions.compat import script_callbacks

    return script_callbacks


def _style() -> grids.GridStyle:
    return grids.GridStyle(active=_opt("grid_text_active_color", grids.ACTIVE_COLOR),
                           inactive=_opt("grid_text_inactive_color", grids.INACTIVE_COLOR),
                           background=_opt("grid_background_color", grids.BACKGROUND_COLOR),
                           font_path=_opt("font", "") or None)


def get_font(fontsize: int):
    return grids.load_font(fontsize, _opt("font", "") or None)


def image_grid(imgs, batch_size: int = 1, rows: int | None = None) -> Image.Image:
    """A1111's grid: rows from the argument or the `n_rows` settings; `on_image_grid` callbacks may change the
    images and the shape before they are pasted."""
    if rows is None:
        rows = grids.grid_rows(len(imgs), batch_size, int(_opt("n_rows", -1)), bool(_opt("grid_prevent_empty_spots",
                                                                                           False)))
    cols, rows = grids.grid_shape(len(imgs), rows)
    callbacks = _callbacks()
    params = callbacks.ImageGridLoopParams(imgs, cols, rows)
    callbacks.image_grid_callback(params)
    return grids.paste_grid(params.imgs, params.cols, params.rows, _style().background)


def check_grid_size(imgs) -> bool:
    """False when the images would make a grid above the `img_max_size_mp` limit (A1111: 200 MP)."""
    megapixels = sum(im.width * im.height for im in imgs if im is not None) / 1_000_000
    return megapixels <= float(_opt("img_max_size_mp", 200))


def draw_grid_annotations(im, width, height, hor_texts, ver_texts, margin=0):
    return grids.draw_grid_annotations(im, width, height, hor_texts, ver_texts, margin, _style())


def draw_prompt_matrix(im, width, height, all_prompts, margin=0):
    return grids.draw_prompt_matrix(im, width, height, all_prompts, margin, _style())


def split_grid(image, tile_w: int = 512, tile_h: int = 512, overlap: int = 64) -> Grid:
    """Overlapping tiles of the image; `grid.tiles` is [[y, h, [[x, w, tile image], …]], …] as in A1111."""
    core = core_grid.split_grid(image, tile_w, tile_h, overlap)
    return Grid(core.rows, core.tile_w, core.tile_h, core.image_w, core.image_h, core.overlap)


def combine_grid(grid: Grid) -> Image.Image:
    """The tiles (as the script left them in `grid.tiles`) blended back into one image."""
    return core_grid.combine_grid(core_grid.Grid(grid.tile_w, grid.tile_h, grid.image_w, grid.image_h, grid.overlap,
                                                 rows=grid.tiles))


def _upscaler(name):
    """`(image, scale) -> image` through the named upscaler, or None for plain Lanczos."""
    if not name or name == "None" or not binding.is_bound():
        return None
    upscalers = binding.app().services.upscalers
    return lambda image, scale: upscalers.upscale(image, name, scale, _opt("ESRGAN_tile", 192),
                                                  _opt("ESRGAN_tile_overlap", 8))


def resize_image(resize_mode, im, width, height, upscaler_name=None):
    """A1111's resize modes; enlarging goes through `upscaler_name` (default: the "Upscaler for img2img" setting)."""
    return _resize_image(resize_mode, im, width, height,
                         _upscaler(upscaler_name or _opt("upscaler_for_img2img", None)))


def flatten(img, bgcolor):
    return _flatten(img, parse_background(bgcolor))


def sanitize_filename_part(text, replace_spaces: bool = True) -> str:
    return core_saving.sanitize_filename_part(text, replace_spaces)


def get_next_sequence_number(path, basename) -> int:
    return core_saving.next_sequence_number(os.listdir(path), basename)


def read_info_from_image(image) -> tuple[str | None, dict]:
    return read_image_metadata(image)


def image_data(data: bytes):
    """(infotext, None) of an uploaded image, or of a UTF-8 text file (A1111's PNG Info upload)."""
    try:
        return read_image_metadata(bytes(data))[0], None
    except Exception:
        pass
    try:
        text = bytes(data).decode("utf8")
        return (text, None) if len(text) < 10000 else (None, None)
    except UnicodeDecodeError:
        return None, None


def get_matched_noise(np_src_image, np_mask_rgb, noise_q=1, color_variation=0.05):
    """Outpainting mk2's noise (Easel exposes it here so the built-in script need not carry a copy)."""
    from modules.pipeline.outpaint import matched_noise

    return matched_noise(np_src_image, np_mask_rgb, noise_q, color_variation, seed=0)


def _pattern_values(p, seed, prompt) -> dict:
    values = {"seed": seed, "prompt": prompt, "max_prompt_words": _opt("directories_max_prompt_words", 8)}
    if p is not None:
        values.update(steps=getattr(p, "steps", None), cfg=getattr(p, "cfg_scale", None),
                      width=getattr(p, "width", None), height=getattr(p, "height", None),
                      sampler=getattr(p, "sampler_name", None), scheduler=getattr(p, "scheduler", None),
                      styles=", ".join(s for s in (getattr(p, "styles", None) or []) if s != "None") or "None",
                      job_timestamp=getattr(p, "job_timestamp", None),
                      model_name=getattr(p, "sd_model_name", None), model_hash=getattr(p, "sd_model_hash", None))
    return values


class FilenameGenerator:
    """A1111's filename pattern expander: `apply("[seed]-[prompt_words]")` with the values of `p`, seed and
    prompt (Easel's patterns, modules/imaging/filename_pattern.py)."""

    def __init__(self, p, seed, prompt, image=None, zip=False, basename=""):  # noqa: A002 - A1111's keyword
        self.p, self.seed, self.prompt, self.image, self.zip, self.basename = p, seed, prompt, image, zip, basename

    def apply(self, x: str) -> str:
        values = {**_pattern_values(self.p, self.seed, self.prompt), "basename": self.basename}
        if self.image is not None:
            values.update(image_width=self.image.width, image_height=self.image.height)
        return apply_pattern(x, values, datetime.now(), _saver().rules)


def _saving() -> SavingSettings:
    return SavingSettings.from_options(_Settings())  # A1111's defaults where no App is bound


def _saver() -> core_saving.ImageSaver:
    return binding.app().services.saver if binding.is_bound() else core_saving.ImageSaver()


def _encode(image, info, extension, section, pnginfo: dict) -> bytes:
    extra = {k: v for k, v in pnginfo.items() if k != section and v is not None}
    saving = _saving()
    return image_with_infotext_bytes(image, info, extension, quality=saving.jpeg_quality,
                                     lossless=saving.webp_lossless, text_key=section, extra_text=extra)


def _write_at(path: Path, data: bytes) -> None:
    temp = core_saving.write_temp(path.parent, data)
    os.replace(temp, path)


def _default_folder(p, grid: bool) -> Path:
    """Where A1111 would have pointed `p.outpath_samples` / `p.outpath_grids`, for a script that passes None."""
    kind = getattr(p, "kind", "txt2img")
    folder = _opt(f"outdir_{kind}_{'grids' if grid else 'samples'}", f"outputs/{kind}-{'grids' if grid else 'images'}")
    return binding.app().paths.data_dir / folder


def save_image_with_geninfo(image, geninfo, filename, extension=None, existing_pnginfo=None,
                            pnginfo_section_name="parameters") -> None:
    """Write `image` to exactly `filename` with `geninfo` as its infotext."""
    path = Path(filename)
    extension = (extension or path.suffix).lower().lstrip(".")
    pnginfo = dict(existing_pnginfo or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_at(path, _encode(image, geninfo, extension, pnginfo_section_name, pnginfo))


def save_image(image, path, basename, seed=None, prompt=None, extension="png", info=None, short_filename=False,
               no_prompt=False, grid=False, pnginfo_section_name="parameters", p=None, existing_info=None,
               forced_filename=None, suffix="", save_to_dirs=None):
    """Save as A1111 does: `path[/date]/NNNNN-<pattern>.ext` (or `basename-NNNN` for grids), with the infotext,
    `on_before_image_saved` / `on_image_saved` callbacks and the optional .txt file. Returns (file, txt file)."""
    now, saving, saver = datetime.now(), _saving(), _saver()
    values = _pattern_values(p, seed, prompt)
    if image is not None:
        values.update(width=image.width, height=image.height)
    folder = Path(path) if path else _default_folder(p, grid)
    folder = folder / saving.subfolder(values, now, grid=grid, no_prompt=no_prompt, rules=saver.rules,
                                       enabled=save_to_dirs)
    folder.mkdir(parents=True, exist_ok=True)
    extension = extension.lower().lstrip(".")
    decoration, numbered = "", False
    if forced_filename is None:
        decoration = saving.decoration(values, now, short=short_filename, rules=saver.rules) + suffix
        numbered = saving.numbered(decoration)
        if numbered:
            number = core_saving.next_sequence_number(os.listdir(folder), basename)
            name = core_saving.file_name(number, extension, basename, decoration, saver.rules)
        else:
            name = f"{saver.rules.sanitize(decoration)}.{extension}"
    else:
        name = f"{forced_filename}.{extension}"
    pnginfo = dict(existing_info or {})
    if _opt("enable_pnginfo", True):
        pnginfo[pnginfo_section_name] = info
    callbacks = _callbacks()
    params = callbacks.ImageSaveParams(image, p, str(folder / name), pnginfo)
    callbacks.before_image_saved_callback(params)
    info = params.pnginfo.get(pnginfo_section_name)
    data = _encode(params.image, info, extension, pnginfo_section_name, params.pnginfo)
    if numbered and params.filename == str(folder / name):  # claim the number atomically (another job may race)
        params.filename = str(saver.save_bytes(data, folder, extension, basename=basename, decoration=decoration))
    else:  # a name without a number (forced, or save_images_add_number off) may exist: save_images_replace_action
        replace = _opt("save_images_replace_action", "Replace") == "Replace"
        params.filename = str(saver.save_named(data, Path(params.filename), replace))
    saver.save_jpeg_copy(params.image, Path(params.filename), info, core_saving.jpeg_copy_setting(_Settings()))
    txt_fullfn = None
    if saving.save_txt and info is not None:
        txt_fullfn = os.path.splitext(params.filename)[0] + ".txt"
        Path(txt_fullfn).write_text(f"{info}\n", encoding="utf8")
    callbacks.image_saved_callback(params)
    return params.filename, txt_fullfn
