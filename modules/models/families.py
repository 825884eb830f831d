"""Which model family a state dict belongs to, from its keys and shapes alone, as a table.

One row per family: its probe, the engine class that loads and runs it (`modules/models/engines/`), and the model
config shipped for it (a same-name `.yaml` beside the checkpoint wins over that). Rows are tried in order; the first
whose probe matches names the family. Families without an engine yet are still recognised, so the user hears
"… is not supported yet" rather than a shape error deep in a conversion. `docs/model-families.md` says how to
add one.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from modules.errors import ModelLoadError
from modules.models.probes import (CLIP_L_PREFIX, OPENCLIP_PREFIX, REFINER_CLIP_G_PREFIX, SDXL_CLIP_G_PREFIX,
                                   SDXL_CLIP_L_PREFIX, SDXL_PREFIX, UNET_IN, has_prefix, safetensors_shapes,
                                   unet_with_in_channels)

if TYPE_CHECKING:  # engines import torch; the table is read before torch loads (model list, native sizes)
    from modules.models.engines.base import Engine

Shapes = Mapping[str, tuple[int, ...]]

__all__ = ["CLIP_L_PREFIX", "FAMILIES", "Family", "UNET_IN", "detect_family", "family_by_name", "family_of_file",
           "refuse_unloadable", "supported_labels"]


@dataclass(frozen=True)
class Family:
    """One row of the family table; `engine` None: recognised, not runnable yet. The engine may be given as
    "module:Class" so that reading the table imports no torch; `engine` resolves it on first use."""

    name: str
    label: str
    probe: Callable[[Shapes], bool]
    engine_ref: type[Engine] | str | None
    default_config: str | None  # yaml file in configs/

    @property
    def supported(self) -> bool:
        return self.engine_ref is not None

    @property
    def engine(self) -> type[Engine] | None:
        if not isinstance(self.engine_ref, str):
            return self.engine_ref
        module, name = self.engine_ref.split(":")
        return getattr(import_module(module), name)


SD1, SD2 = "modules.models.engines.sd1:SD1Engine", "modules.models.engines.sd2:SD2Engine"
SDXL, REFINER = "modules.models.engines.sdxl:SDXLEngine", "modules.models.engines.sdxl_refiner:SDXLRefinerEngine"
XL_TOWERS = (SDXL_CLIP_L_PREFIX, SDXL_CLIP_G_PREFIX)

FAMILIES: tuple[Family, ...] = (
    Family("sdxl-inpaint", "SDXL inpainting", unet_with_in_channels(XL_TOWERS, 9), SDXL, "sd_xl-inpainting.yaml"),
    Family("sdxl", "SDXL", unet_with_in_channels(XL_TOWERS, 4), SDXL, "sd_xl_base.yaml"),
    Family("sdxl-refiner", "SDXL refiner", unet_with_in_channels([REFINER_CLIP_G_PREFIX], 4, [SDXL_CLIP_L_PREFIX]),
           REFINER, "sd_xl_refiner.yaml"),
    Family("sdxl-other", "SDXL instruct-pix2pix/other variants", lambda s: has_prefix(s, SDXL_PREFIX), None, None),
    Family("sd2", "SD 2.x", unet_with_in_channels([OPENCLIP_PREFIX], 4), SD2, "v2-inference.yaml"),
    Family("sd2-other", "SD 2.x inpainting/depth/other variants", lambda s: has_prefix(s, OPENCLIP_PREFIX), None,
           None),
    Family("sd1-inpaint", "SD 1.x inpainting", unet_with_in_channels([CLIP_L_PREFIX], 9), SD1,
           "v1-inpainting-inference.yaml"),
    Family("sd1-pix2pix", "SD 1.x instruct-pix2pix", unet_with_in_channels([CLIP_L_PREFIX], 8), None, None),
    Family("sd1", "SD 1.x", unet_with_in_channels([CLIP_L_PREFIX], 4), SD1, "v1-inference.yaml"),
)


def detect_family(shapes: Shapes, path: str, families: Sequence[Family] = FAMILIES) -> Family:
    """The family of a checkpoint; unsupported or unknown ones raise ModelLoadError naming the file.

    >>> detect_family({UNET_IN: (320, 4, 3, 3), CLIP_L_PREFIX + "x": (1,)}, "a.safetensors").name
    'sd1'
    >>> detect_family({"conditioner.embedders.0.x": (1,)}, "xl.safetensors")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.errors.ModelLoadError: cannot load xl.safetensors: SDXL instruct-pix2pix/other variants ... yet (...)
    """
    for family in families:
        if family.probe(shapes):
            if not family.supported:
                raise ModelLoadError(path, f"{family.label} checkpoints are not supported yet "
                                           f"(supported: {supported_labels(families)})")
            return family
    raise ModelLoadError(path, "not a Stable Diffusion checkpoint (wrong architecture: no SD UNet and CLIP "
                               f"text encoder keys found; supported: {supported_labels(families)})")


def supported_labels(families: Sequence[Family] = FAMILIES) -> str:
    return ", ".join(sorted(f.label for f in families if f.supported))


def family_by_name(name: str, families: Sequence[Family] = FAMILIES) -> Family:
    return next(f for f in families if f.name == name)


def refuse_unloadable(path: Path | str, families: Sequence[Family] = FAMILIES) -> None:
    """`detect_family`'s error for a .safetensors file whose header names no supported family, read before any
    weight (so a loaded model need not be dropped first); a .ckpt needs unpickling, so its load says it."""
    shapes = safetensors_shapes(path)
    if shapes is not None:
        detect_family(shapes, str(path), families)


def family_of_file(path: Path | str, families: Sequence[Family] = FAMILIES) -> Family | None:
    """The family of a .safetensors checkpoint from its header alone (no torch, no tensor read); None when the
    file is not a .safetensors file or no row matches (a .ckpt needs unpickling, which only a load does)."""
    shapes = safetensors_shapes(path)
    if shapes is None:
        return None
    return next((f for f in families if f.probe(shapes)), None)
