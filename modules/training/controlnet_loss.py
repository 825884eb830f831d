"""Where the built-in ControlNet's loss looks hardest: the latent cells that tell the control's shape from the others.

A square and the circle inscribed in the same box differ only near the square's corners; a star and a triangle at
its points. Those few cells carry the shape's type, but in a plain per-cell loss they are outweighed by the rest of
the shape and the background, which the frozen UNet draws well already, so a ControlNet learns the place and size
of the shape first and its corners last (`models/ControlNet/easel-builtin-outline.md`, Measured). Weighting the
cells where the scene's shape differs from another shape fitted to the same box (`distinctive_cells`) puts the
gradient where the type is decided.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from modules.training.analyzer import outline_mask
from modules.training.render import UNIT_OUTLINES
from modules.training.scenes import Scene


def _box(scene: Scene, size: int) -> tuple[float, float, float, float]:
    cx, cy, h = scene.cx * size, scene.cy * size, scene.half * size
    return (cx - h, cy - h, cx + h, cy + h)


def distinctive_pixels(scene: Scene, size: int = 64) -> np.ndarray:
    """Bool [size, size]: pixels where the scene's shape differs from at least one other shape in the same box.

    >>> sq = distinctive_pixels(Scene("red", "square", "blue", "centre", "medium", .5, .5, .25))
    >>> bool(sq[17, 17]), bool(sq[32, 32]), bool(sq[2, 2])  # a corner, the centre, the background
    (True, False, False)
    """
    box = _box(scene, size)
    own = outline_mask(scene.shape, box, (size, size))
    out = np.zeros_like(own)
    for other in UNIT_OUTLINES:
        if other != scene.shape:
            out |= own ^ outline_mask(other, box, (size, size))
    return out


def distinctive_cells(scenes: list[Scene], factor: int = 4, size: int = 64) -> torch.Tensor:
    """Bool [N, 1, size/f, size/f]: latent cells whose f×f patch holds a distinctive pixel of their scene's shape."""
    pixels = np.stack([distinctive_pixels(s, size) for s in scenes])[:, None]  # [N, 1, size, size]
    return F.max_pool2d(torch.from_numpy(pixels).float(), factor) > 0


def cell_weights(shape_cells: torch.Tensor, telling_cells: torch.Tensor, shape_weight: float,
                 telling_weight: float) -> torch.Tensor:
    """Loss weight per latent cell [N, 1, h, w]: 1 on the background, `shape_weight` on the shape, and
    `telling_weight` where the shape's type shows (the larger weight wins where both apply).

    >>> shape = torch.tensor([[[[True, True, False]]]]); telling = torch.tensor([[[[False, True, True]]]])
    >>> cell_weights(shape, telling, 3.0, 8.0).tolist()
    [[[[3.0, 8.0, 8.0]]]]
    """
    weight = 1.0 + (shape_weight - 1.0) * shape_cells.float()  # [N, 1, h, w]
    return torch.where(telling_cells, torch.full_like(weight, telling_weight).maximum(weight), weight)


def sampling_weights(scenes: list[Scene], per_shape: dict[str, float]) -> torch.Tensor:
    """Float [N]: how often each scene is drawn into a batch, from its shape (shapes not named: 1).

    >>> sampling_weights([Scene("red", "star", "blue", "top", "small", .5, .25, .1),
    ...                   Scene("red", "circle", "blue", "top", "small", .5, .25, .1)], {"star": 2.0}).tolist()
    [2.0, 1.0]
    """
    return torch.tensor([float(per_shape.get(s.shape, 1.0)) for s in scenes])
