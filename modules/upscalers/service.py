"""`Upscalers`: the one owner of upscaler models (created in webui.py, passed down). Lists, finds and runs them.

Scaling follows A1111's `Upscaler.upscale`: a model is applied up to three times until the image reaches the
target size, then Lanczos brings it to the exact size (here `round(w * scale)`, not A1111's multiple of 8).
Listing and finding need no torch; torch and spandrel are imported when a model first runs (the page is served
before torch loads, docs/architecture.md §4).
"""
from __future__ import annotations

import threading
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from modules.errors import InvalidInput
from modules.upscalers.faces.restorers import FaceRestorers, as_device
from modules.upscalers.registry import BUILTIN, UpscalerInfo, find_upscaler_models

if TYPE_CHECKING:
    import torch

MAX_MODEL_PASSES = 3
Progress = Callable[[int, int], None]


def target_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The exact size an upscale by `scale` aims for.

    >>> target_size(33, 10, 4), target_size(100, 60, 1.5)
    ((132, 40), (150, 90))
    """
    return max(1, round(width * scale)), max(1, round(height * scale))


class Upscalers:
    """Upscaler rows by name, and the last loaded model (one at a time, like checkpoints). `faces` is the face
    restoration service (GFPGAN, CodeFormer, …), which shares the models folder and the device."""

    def __init__(self, models_dir: Path, device: torch.device | str | Callable[[], str] = "cpu",
                 disable_safe_unpickle: bool = False, folders: Mapping[str, Path] | None = None):
        """`folders`: another folder per models/ sub-folder name ("ESRGAN", "GFPGAN" …), searched first."""
        self.models_dir = Path(models_dir)
        self.folders = dict(folders or {})
        self._device = device  # or a function giving it: the App's device choice is made at the first model load
        self.disable_safe_unpickle = disable_safe_unpickle
        self._rows: list[UpscalerInfo] | None = None
        self._loaded: tuple[Path, object] | None = None
        self._lock = threading.RLock()
        self.faces = FaceRestorers(self.models_dir, device, disable_safe_unpickle, self.folders)

    @property
    def device(self) -> torch.device:
        return as_device(self._device)

    def list(self, refresh: bool = False) -> list[UpscalerInfo]:
        with self._lock:
            if self._rows is None or refresh:
                self._rows = [*BUILTIN, *find_upscaler_models(self.models_dir, self.folders)]
            return list(self._rows)

    def find(self, name: str | None, field: str = "upscaler") -> UpscalerInfo:
        """By name (case-insensitive); None or "" is "None". Re-scans the folders once before refusing."""
        key = (name or "None").strip().lower()
        for refresh in (False, True):
            for row in self.list(refresh):
                if row.name.lower() == key or (row.path is not None and row.path.name.lower() == key):
                    return row
        raise InvalidInput(field, f"unknown upscaler {name!r}", ", ".join(r.name for r in self.list()))

    def model(self, info: UpscalerInfo):
        """The spandrel descriptor for a model row, loading it (and dropping the previous one) if needed."""
        if info.path is None:
            raise ValueError(f"upscaler {info.name!r} is not a model file")  # a caller's slip: only model rows load
        with self._lock:
            if self._loaded is None or self._loaded[0] != info.path:
                from modules.upscalers.models import load_descriptor

                self._loaded = None
                self._loaded = (info.path, load_descriptor(info.path, self.device, self.disable_safe_unpickle))
            return self._loaded[1]

    def upscale(self, image: Image.Image, name: str | None, scale: float, tile: int = 192, overlap: int = 8,
                progress: Progress | None = None, field: str = "upscaler") -> Image.Image:
        """`image` scaled by `scale` with the named upscaler ("None" returns it unchanged)."""
        info = self.find(name, field)
        if info.kind == "none" or scale == 1:
            return image
        width, height = target_size(image.width, image.height, scale)
        if info.kind == "model":
            with self._lock:
                descriptor = self.model(info)
                for _ in range(MAX_MODEL_PASSES):
                    if image.width >= width and image.height >= height:
                        break
                    image = run_model(descriptor, image, tile, overlap, progress)
        if image.size != (width, height):
            resample = Image.Resampling.LANCZOS if info.resample is None else info.resample  # NEAREST is 0
            image = image.resize((width, height), resample=resample)
        return image


def run_model(descriptor, image: Image.Image, tile: int, overlap: int, progress: Progress | None) -> Image.Image:
    """One pass of a spandrel model over a PIL image (RGB in, RGB out), tiled."""
    import torch
    from tqdm import tqdm

    from modules.upscalers.tiled import count_tiles, upscale_tiled

    param = next(descriptor.model.parameters())
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # [H, W, 3]
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(param.device, param.dtype)  # [1, 3, H, W]
    total = count_tiles(x.shape[2], x.shape[3], tile, overlap)
    with torch.inference_mode(), tqdm(total=total, desc="Upscaling", unit="tile", disable=total < 2) as bar:
        def on_tile(done: int, count: int) -> None:
            bar.update(done - bar.n)
            if progress is not None:
                progress(done, count)

        out = upscale_tiled(descriptor, x, descriptor.scale, tile, overlap, on_tile)  # [1, 3, H*s, W*s]
    array = (out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array, mode="RGB")
