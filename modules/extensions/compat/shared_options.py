"""A1111's `modules.shared_options`: its options table (the same object as `shared.options_templates`) and the
settings the API may not change on a locked-down server."""
from __future__ import annotations

from modules.extensions.compat.options_view import options_templates  # noqa: F401 - A1111 name

restricted_opts = {"samples_filename_pattern", "directories_filename_pattern", "outdir_samples",
                   "outdir_txt2img_samples", "outdir_img2img_samples", "outdir_extras_samples", "outdir_grids",
                   "outdir_txt2img_grids", "outdir_save", "outdir_init_images", "temp_dir",
                   "clean_temp_dir_at_start"}
