"""PIL images ⇄ image tensors in [0, 1], with A1111's rounding and alpha handling.

Decoded samples become pixels the way A1111's `processing.py` does it: clamp to [0, 1], multiply by 255 in float32,
truncate with `astype(np.uint8)` (not round-to-nearest), so an Easel image is byte-identical to A1111's for the
same decoded tensor. Images going in are flattened over a background colour first, as A1111's `images.flatten`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.background import DEFAULT_BACKGROUND, flatten, parse_background

# Channel count of a tensor → PIL mode.
MODES_BY_CHANNELS: dict[int, str] = {1: "L", 3: "RGB", 4: "RGBA"}

# 16-bit and 32-bit integer single-channel modes, scaled from 0..65535 instead of being clipped at 255.
WIDE_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def tensor_to_pil(images: torch.Tensor) -> list[Image.Image]:
    """[B, C, H, W] values in [0, 1] (C = 3, or 1 / 4 for L / RGBA) → one PIL image per batch item.

    NaNs become 0 (black) rather than whatever the uint8 cast would make of them.

    >>> [im.getpixel((0, 0)) for im in tensor_to_pil(torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1))]
    [(0, 127, 255)]
    """
    if images.ndim != 4 or images.shape[1] not in MODES_BY_CHANNELS:
        raise ValueError(f"tensor_to_pil expects [B, C, H, W] with C in 1, 3, 4; got {tuple(images.shape)}")
    x = torch.nan_to_num(images.detach().float(), nan=0.0).clamp(0.0, 1.0)  # [B, C, H, W]
    pixels = (255.0 * np.moveaxis(x.cpu().numpy(), 1, 3)).astype(np.uint8)  # [B, H, W, C]
    mode = MODES_BY_CHANNELS[images.shape[1]]
    if mode == "L":
        pixels = pixels[..., 0]  # [B, H, W]
    return [Image.fromarray(p, mode=mode) for p in pixels]


def image_array(image: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    """One image as float32 [H, W, 3] in [0, 1]; 16-bit greyscale keeps its precision."""
    if image.mode in WIDE_GRAY_MODES:
        gray = np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)  # [H, W]
        return np.repeat(gray[..., None], 3, axis=2)  # [H, W, 3]
    return np.asarray(flatten(image, background), dtype=np.float32) / 255.0  # [H, W, 3]


def pil_to_tensor(
    images: Image.Image | Sequence[Image.Image], background: str = DEFAULT_BACKGROUND
) -> torch.Tensor:
    """PIL images of one size → float32 [B, 3, H, W] in [0, 1]; transparency flattened over `background`.

    >>> pil_to_tensor(Image.new("RGBA", (2, 1), (255, 0, 0, 0)))[0, :, 0, 0].tolist()
    [1.0, 1.0, 1.0]
    """
    batch = [images] if isinstance(images, Image.Image) else list(images)
    if not batch:
        raise InvalidInput("images", "no images given", "at least one image")
    sizes = sorted({im.size for im in batch})
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for w, h in sizes)
        raise InvalidInput("images", f"sizes differ ({shown})", "images of one size")
    rgb = parse_background(background)
    arrays = np.stack([image_array(im, rgb) for im in batch])  # [B, H, W, 3]
    return torch.from_numpy(arrays).permute(0, 3, 1, 2).contiguous()  # [B, 3, H, W]
