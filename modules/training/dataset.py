"""The training set: rendered scenes (cached as .npz under the run folder) and fresh captions for every batch.

Images are fixed per seed; captions are drawn anew each time a scene is used (several phrasings per scene), so the
text encoder sees every phrasing of every scene over training.
"""
from __future__ import annotations

import random
from dataclasses import astuple
from pathlib import Path

import numpy as np
import torch

from modules.training.render import render_many
from modules.training.scenes import Scene, caption, random_scene
from modules.training.world import COLOURS

SCENE_FIELDS = ("colour", "shape", "background", "position", "size", "cx", "cy", "half")


def make_scenes(count: int, seed: int) -> list[Scene]:
    """`count` training scenes; the same seed gives the same scenes."""
    rng = random.Random(seed)
    return [random_scene(rng) for _ in range(count)]


def load_or_render(folder: Path, count: int, seed: int) -> tuple[np.ndarray, list[Scene]]:
    """uint8 images [N, 3, 64, 64] and their scenes, rendered once and cached in `folder`."""
    path = Path(folder) / f"scenes-{seed}-{count}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        rows = data["scenes"].tolist()
        scenes = [Scene(*r[:5], *(float(v) for v in r[5:])) for r in rows]
        return data["images"], scenes
    scenes = make_scenes(count, seed)
    images = render_many(scenes)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = np.array([[str(v) for v in astuple(s)] for s in scenes])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=images, scenes=table)
    tmp.replace(path)
    return images, scenes


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, 3, H, W] → float32 in [-1, 1] (the VAE's input range)."""
    return torch.from_numpy(images).float().div(127.5).sub(1.0)  # [B, 3, H, W]


def shape_masks(images: np.ndarray, scenes: list[Scene], threshold: int = 24) -> torch.Tensor:
    """Float [B, 1, H, W]: 1 where a pixel differs from its scene's background (the shape and its edge)."""
    bg = np.array([COLOURS[s.background] for s in scenes], dtype=np.int16)[:, :, None, None]  # [B, 3, 1, 1]
    diff = np.abs(images.astype(np.int16) - bg).max(axis=1, keepdims=True)  # [B, 1, H, W]
    return torch.from_numpy((diff > threshold).astype(np.float32))


class CaptionSampler:
    """Fresh captions for scenes, from its own seeded stream (resumable: the state is a plain tuple)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def captions(self, scenes: list[Scene]) -> list[str]:
        return [caption(s, self.rng) for s in scenes]

    def state(self):
        return self.rng.getstate()

    def set_state(self, state) -> None:
        self.rng.setstate(_as_tuple(state))


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x
