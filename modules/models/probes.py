"""Where each family's networks sit in a single-file checkpoint, and probes that tell families apart from key names
and shapes alone. No torch: the model list and the native-size defaults of the page and the API read checkpoint
headers before torch loads (docs/architecture.md §4); `families.py` builds its table from these probes.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

Shapes = Mapping[str, tuple[int, ...]]

UNET_PREFIX = "model.diffusion_model."
UNET_IN = UNET_PREFIX + "input_blocks.0.0.weight"  # the UNet's first convolution [out, in_channels, 3, 3]
CLIP_L_PREFIX = "cond_stage_model.transformer."  # SD 1.x's CLIP ViT-L/14, in either layout (with text_model. or not)
OPENCLIP_PREFIX = "cond_stage_model.model."  # SD 2.x's OpenCLIP ViT-H/14, OpenCLIP layout
SDXL_PREFIX = "conditioner.embedders."  # Stability's sgm layout: the text encoders are numbered embedders
SDXL_CLIP_L_PREFIX = SDXL_PREFIX + "0.transformer."  # SDXL base: CLIP ViT-L/14, transformers layout
SDXL_CLIP_G_PREFIX = SDXL_PREFIX + "1.model."  # SDXL base: OpenCLIP ViT-bigG/14, OpenCLIP layout
REFINER_CLIP_G_PREFIX = SDXL_PREFIX + "0.model."  # the SDXL refiner's only text encoder
MAX_HEADER_BYTES = 100 * 2**20  # a safetensors header larger than this is not a checkpoint we read


def has_prefix(shapes: Shapes, prefix: str) -> bool:
    """Some key of the checkpoint starts with `prefix`.

    >>> has_prefix({"conditioner.embedders.0.x": (1,)}, "conditioner.embedders.")
    True
    """
    return any(k.startswith(prefix) for k in shapes)


def unet_with_in_channels(prefixes: Sequence[str], channels: int, absent: Sequence[str] = ()) -> Callable:
    """A probe: keys under every one of `prefixes`, none under `absent`, a UNet taking `channels` channels.

    >>> probe = unet_with_in_channels([SDXL_CLIP_L_PREFIX, SDXL_CLIP_G_PREFIX], 4)
    >>> probe({UNET_IN: (320, 4, 3, 3), SDXL_CLIP_L_PREFIX + "x": (1,), SDXL_CLIP_G_PREFIX + "y": (1,)})
    True
    >>> probe({UNET_IN: (320, 9, 3, 3), SDXL_CLIP_L_PREFIX + "x": (1,), SDXL_CLIP_G_PREFIX + "y": (1,)})
    False
    """
    def probe(shapes: Shapes) -> bool:
        shape = shapes.get(UNET_IN)
        return (all(has_prefix(shapes, p) for p in prefixes) and not any(has_prefix(shapes, p) for p in absent)
                and shape is not None and len(shape) == 4 and shape[1] == channels)
    return probe


def safetensors_shapes(path: Path | str) -> dict[str, tuple[int, ...]] | None:
    """Key → shape from a .safetensors file's JSON header (no tensor read); None for other or broken files."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        return None
    try:
        with path.open("rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            if not 0 < size <= MAX_HEADER_BYTES:
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error):
        return None
    return {k: tuple(v["shape"]) for k, v in header.items() if isinstance(v, dict) and "shape" in v}
