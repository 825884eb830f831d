"""Seamless tiling (A1111's "Tiling"): the UNet and VAE convolutions pad circularly while a job runs, so every
feature map, and with it the picture, wraps around left↔right and top↔bottom.

Attention and group norms see the whole map at once and have no edges; convolutions are the only layers that
treat the border specially. With circular padding the networks become functions on a torus: shifting the input
by whole latent pixels shifts the output alike, and the image's right edge continues into its left.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import torch

CIRCULAR: Final = "circular"


def _convolutions(model) -> list[torch.nn.Conv2d]:
    """The 2-D convolutions of the UNet and the VAE (the text encoder has none)."""
    return [m for net in (model.unet, model.vae) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]


@contextmanager
def tiled(model, enabled: bool = True) -> Iterator[None]:
    """Pad the model's convolutions circularly inside the block; put every layer's own padding mode back on the
    way out, error or not. Only the padding mode changes: no weight is touched."""
    if not enabled:
        yield
        return
    saved = [(conv, conv.padding_mode) for conv in _convolutions(model)]
    try:
        for conv, _ in saved:
            conv.padding_mode = CIRCULAR
        yield
    finally:
        for conv, mode in saved:
            conv.padding_mode = mode
