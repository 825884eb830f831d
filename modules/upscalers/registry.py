"""What upscalers exist: built-in rows as data, plus model files found in the upscaler folders."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# Folders under models/ that A1111 and its extensions use for spandrel-loadable upscaler models.
MODEL_FOLDERS: tuple[str, ...] = ("ESRGAN", "RealESRGAN", "SwinIR", "DAT", "HAT", "ScuNET", "Upscaler")
MODEL_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")

# Hires fix's latent upscale modes: name → (torch interpolate mode, antialias), as A1111 names them.
LATENT_MODES: dict[str, tuple[str, bool]] = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}


@dataclass(frozen=True)
class UpscalerInfo:
    """One upscaler as users and the API name it. kind: "none", "pil" (a resampling filter) or "model"."""

    name: str
    kind: str
    scale: float = 4.0
    path: Path | None = None
    resample: int | None = None

    def api_entry(self) -> dict:
        """A row of GET /sdapi/v1/upscalers."""
        return {"name": self.name, "model_name": self.path.stem if self.path else None,
                "model_path": str(self.path) if self.path else None, "model_url": None, "scale": self.scale}


BUILTIN: tuple[UpscalerInfo, ...] = (
    UpscalerInfo("None", "none", 1.0),
    UpscalerInfo("Lanczos", "pil", 4.0, resample=Image.Resampling.LANCZOS),
    UpscalerInfo("Nearest", "pil", 4.0, resample=Image.Resampling.NEAREST),
)


def scale_from_name(name: str, default: float = 4.0) -> float:
    """The scale a model's file name announces ("4x_foo", "RealESRGAN_x2plus", "foo_2x"), else `default`.

    >>> scale_from_name("4x-UltraSharp"), scale_from_name("RealESRGAN_x2plus"), scale_from_name("model")
    (4.0, 2.0, 4.0)
    """
    found = re.search(r"(?:^|[^0-9a-z])(\d)x(?:$|[^0-9a-z])", name.lower()) or re.search(r"x(\d)", name.lower())
    return float(found.group(1)) if found else default


def find_upscaler_models(models_dir: Path, folders: Mapping[str, Path] | None = None) -> list[UpscalerInfo]:
    """Model files in the upscaler folders (recursive), named by file stem; a repeated stem gets its folder.
    `folders`: another folder per sub-folder name, searched first (A1111's --esrgan-models-path …)."""
    found: list[UpscalerInfo] = []
    taken = {row.name.lower() for row in BUILTIN}
    for folder in MODEL_FOLDERS:
        for root in dict.fromkeys([(folders or {}).get(folder, models_dir / folder), models_dir / folder]):
            if not root.is_dir():
                continue
            for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES):
                name = path.stem if path.stem.lower() not in taken else f"{folder}/{path.stem}"
                taken.add(name.lower())
                found.append(UpscalerInfo(name, "model", scale_from_name(path.stem), path))
    return found
