"""Shared steps of the network preprocessors: the extension's pad-to-64 around detection, and loading an original
state dict into Easel's network with every key accounted for."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from modules.errors import ModelLoadError

PAD_MULTIPLE = 64


def pad_edges(image: np.ndarray, multiple: int = PAD_MULTIPLE) -> np.ndarray:
    """The image grown at the bottom and right to multiples of `multiple` by repeating its last row and column, as
    the extension pads before a network detector (the result is cropped back after).

    >>> pad_edges(np.zeros((65, 64, 3), np.uint8)).shape
    (128, 64, 3)
    """
    h, w = image.shape[:2]
    return np.pad(image, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")


def load_exact(factory, state: dict, path: Path, what: str, unused_prefixes: tuple[str, ...] = ()):
    """The network `factory()` builds, holding `state` (built on the meta device, so no time goes into an
    initialisation the file replaces); a missing, foreign or misshapen key is refused naming the file."""
    import torch

    state = {k: v.float() for k, v in state.items() if not k.startswith(unused_prefixes)}
    with torch.device("meta"):
        net = factory()
    try:
        result = net.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as e:  # shapes that do not match the architecture
        raise ModelLoadError(str(path), f"not {what} file ({str(e).splitlines()[-1].strip()})") from None
    if result.missing_keys or result.unexpected_keys:
        sample = (result.missing_keys or result.unexpected_keys)[:3]
        raise ModelLoadError(str(path), f"not {what} file ({len(result.missing_keys)} weights missing, "
                                        f"{len(result.unexpected_keys)} unknown, e.g. {', '.join(sample)})")
    return net.eval()
