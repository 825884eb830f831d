"""Which model family a state dict belongs to, from its keys and shapes alone (COMPAT §1), as a table.

Rows are tried in order; the first whose probe matches names the family. Families we cannot run yet are still
recognised, so the user hears "SDXL is not supported yet" rather than a shape error deep in a conversion.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from modules.errors import ModelLoadError

Shapes = Mapping[str, tuple[int, ...]]

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
CLIP_L_PREFIX = "cond_stage_model.transformer."
OPENCLIP_PREFIX = "cond_stage_model.model."
SDXL_PREFIX = "conditioner.embedders."


def _has_prefix(shapes: Shapes, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in shapes)


def _sd1_with_in_channels(channels: int) -> Callable[[Shapes], bool]:
    def probe(shapes: Shapes) -> bool:
        shape = shapes.get(UNET_IN)
        return _has_prefix(shapes, CLIP_L_PREFIX) and shape is not None and len(shape) == 4 and shape[1] == channels
    return probe


@dataclass(frozen=True)
class Family:
    """One row of the family table."""

    name: str
    label: str
    probe: Callable[[Shapes], bool]
    supported: bool
    default_config: str | None  # yaml file in configs/
    unet_in_channels: int | None = None


FAMILIES: tuple[Family, ...] = (
    Family("sdxl", "SDXL", lambda s: _has_prefix(s, SDXL_PREFIX), False, None),
    Family("sd2", "SD 2.x (OpenCLIP ViT-H text encoder)", lambda s: _has_prefix(s, OPENCLIP_PREFIX), False, None),
    Family("sd1-inpaint", "SD 1.x inpainting", _sd1_with_in_channels(9), True, "v1-inpainting-inference.yaml", 9),
    Family("sd1-pix2pix", "SD 1.x instruct-pix2pix", _sd1_with_in_channels(8), False, None, 8),
    Family("sd1", "SD 1.x", _sd1_with_in_channels(4), True, "v1-inference.yaml", 4),
)


def detect_family(shapes: Shapes, path: str) -> Family:
    """The family of a checkpoint; unsupported or unknown ones raise ModelLoadError naming the file.

    >>> detect_family({UNET_IN: (320, 4, 3, 3), CLIP_L_PREFIX + "x": (1,)}, "a.safetensors").name
    'sd1'
    >>> detect_family({"conditioner.embedders.0.x": (1,)}, "xl.safetensors")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.errors.ModelLoadError: cannot load xl.safetensors: SDXL checkpoints are not supported yet (supported: ...)
    """
    for family in FAMILIES:
        if family.probe(shapes):
            if not family.supported:
                raise ModelLoadError(path, f"{family.label} checkpoints are not supported yet "
                                           f"(supported: {supported_labels()})")
            return family
    raise ModelLoadError(path, "not a Stable Diffusion checkpoint (wrong architecture: no SD UNet and CLIP "
                               f"text encoder keys found; supported: {supported_labels()})")


def supported_labels() -> str:
    return ", ".join(sorted(f.label for f in FAMILIES if f.supported))


def family_by_name(name: str) -> Family:
    return next(f for f in FAMILIES if f.name == name)
