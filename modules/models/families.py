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

from modules.errors import ModelLoadError
from modules.models.engines.base import Engine, has_prefix
from modules.models.engines.sd1 import UNET_IN, SD1Engine, clip_l_unet_with_in_channels
from modules.models.engines.sd2 import OPENCLIP_PREFIX, SD2Engine, openclip_unet_with_in_channels
from modules.models.engines.sdxl import SDXLEngine, unet_with_in_channels
from modules.models.engines.sdxl_refiner import SDXLRefinerEngine
from modules.models.ldm_layout import CLIP_L_PREFIX, REFINER_CLIP_G_PREFIX, SDXL_CLIP_G_PREFIX, SDXL_CLIP_L_PREFIX

Shapes = Mapping[str, tuple[int, ...]]

SDXL_PREFIX = "conditioner.embedders."

__all__ = ["CLIP_L_PREFIX", "FAMILIES", "Family", "UNET_IN", "detect_family", "family_by_name", "supported_labels"]


@dataclass(frozen=True)
class Family:
    """One row of the family table; `engine` None: recognised, not runnable yet."""

    name: str
    label: str
    probe: Callable[[Shapes], bool]
    engine: type[Engine] | None
    default_config: str | None  # yaml file in configs/

    @property
    def supported(self) -> bool:
        return self.engine is not None


FAMILIES: tuple[Family, ...] = (
    Family("sdxl-inpaint", "SDXL inpainting", unet_with_in_channels([SDXL_CLIP_L_PREFIX, SDXL_CLIP_G_PREFIX], 9),
           SDXLEngine, "sd_xl-inpainting.yaml"),
    Family("sdxl", "SDXL", unet_with_in_channels([SDXL_CLIP_L_PREFIX, SDXL_CLIP_G_PREFIX], 4), SDXLEngine,
           "sd_xl_base.yaml"),
    Family("sdxl-refiner", "SDXL refiner", unet_with_in_channels([REFINER_CLIP_G_PREFIX], 4, [SDXL_CLIP_L_PREFIX]),
           SDXLRefinerEngine, "sd_xl_refiner.yaml"),
    Family("sdxl-other", "SDXL instruct-pix2pix/other variants", lambda s: has_prefix(s, SDXL_PREFIX), None, None),
    Family("sd2", "SD 2.x", openclip_unet_with_in_channels(4), SD2Engine, "v2-inference.yaml"),
    Family("sd2-other", "SD 2.x inpainting/depth/other variants", lambda s: has_prefix(s, OPENCLIP_PREFIX), None,
           None),
    Family("sd1-inpaint", "SD 1.x inpainting", clip_l_unet_with_in_channels(9), SD1Engine,
           "v1-inpainting-inference.yaml"),
    Family("sd1-pix2pix", "SD 1.x instruct-pix2pix", clip_l_unet_with_in_channels(8), None, None),
    Family("sd1", "SD 1.x", clip_l_unet_with_in_channels(4), SD1Engine, "v1-inference.yaml"),
)


def detect_family(shapes: Shapes, path: str, families: Sequence[Family] = FAMILIES) -> Family:
    """The family of a checkpoint; unsupported or unknown ones raise ModelLoadError naming the file.

    >>> detect_family({UNET_IN: (320, 4, 3, 3), CLIP_L_PREFIX + "x": (1,)}, "a.safetensors").name
    'sd1'
    >>> detect_family({"conditioner.embedders.0.x": (1,)}, "xl.safetensors")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.errors.ModelLoadError: cannot load xl.safetensors: SDXL instruct-pix2pix/other variants checkpoints are not supported yet (supported: ...)
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
