"""Upscalers: None/Lanczos/Nearest, the latent modes of hires fix, and model files that `spandrel` recognises.

`registry` lists what exists (a table of built-ins plus the files in models/ESRGAN, RealESRGAN, SwinIR, DAT, …),
`models` reads a file without running code in it and hands it to spandrel, `tiled` runs a model tile by tile
with progress, and `service.Upscalers` (one per App) ties them together and keeps the last model loaded.
"""
from modules.upscalers.registry import LATENT_MODES, UpscalerInfo
from modules.upscalers.service import Upscalers

__all__ = ["LATENT_MODES", "UpscalerInfo", "Upscalers"]
