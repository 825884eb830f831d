"""depth_midas: MiDaS DPT-Hybrid relative depth as a grey map, white = near, normalised per image as the extension
does (minimum → 0, maximum → 255, over the padded frame the network saw)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles, NetworkCache
from modules.controlnet.preprocessors.edges import gray3, scale_short_side
from modules.controlnet.preprocessors.network_io import load_exact, pad_edges
from modules.controlnet.preprocessors.registry import Params

MIDAS_FILE = "dpt_hybrid-midas-501f0c75.pt"


def build_midas(states: list[dict], path: Path):
    from modules.controlnet.preprocessors.depth.dpt import UNUSED_PREFIXES, DPTHybridDepth

    return load_exact(DPTHybridDepth, states[0], path, "a MiDaS DPT-Hybrid", UNUSED_PREFIXES)


def depth_to_map(depth: np.ndarray) -> np.ndarray:
    """[H, W] float depth → uint8 [H, W], its range stretched to 0…255 (truncated, as the extension's astype).

    >>> depth_to_map(np.array([[1.0, 2.0], [3.0, 5.0]])).tolist()
    [[0, 63], [127, 255]]
    """
    d = depth - depth.min()
    d = d / d.max() if d.max() > 0 else d
    return np.clip(d * 255.0, 0, 255).astype(np.uint8)


def depth_midas(files: AnnotatorFiles, cache: NetworkCache, image: np.ndarray, p: Params) -> np.ndarray:
    """uint8 [H, W, 3] → grey depth map at the preprocessor resolution (short side), [h, w, 3]."""
    import torch

    (path,) = files.paths()
    net = cache.get((path,), lambda states: build_midas(states, path))
    img = scale_short_side(image, p.resolution)
    padded = pad_edges(img)  # [H64, W64, 3]
    x = torch.from_numpy(padded).float().permute(2, 0, 1)[None] / 127.5 - 1.0  # [1, 3, H64, W64]
    with torch.no_grad():
        depth = net(x)[0].numpy()  # [H64, W64]
    return gray3(depth_to_map(depth)[:img.shape[0], :img.shape[1]])
