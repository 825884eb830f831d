"""Hands for openpose_hand: a square box past each wrist (from the elbow and shoulder, as OpenPose's hand
detector places it), the hand network run on it at four scales, and per finger point the strongest blob's maximum.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage

from modules.controlnet.preprocessors.openpose.body import STRIDE, Keypoint, resize_maps

SCALES = (184, 368, 552, 736)  # 0.5, 1, 1.5 and 2 × the 368 px box
MAP_SIZE = 128  # the averaged heatmaps' size
HAND_POINTS = 21
THRESHOLD = 0.05
MIN_BOX = 20
# (shoulder, elbow, wrist) of the left then the right arm, in COCO-18 part numbers.
ARMS = ((5, 6, 7), (2, 3, 4))


def hand_box(shoulder: Keypoint | None, elbow: Keypoint | None, wrist: Keypoint | None, height: int,
             width: int) -> tuple[int, int, int] | None:
    """(x, y, side) of the square box past the wrist, inside the image; None without all three points or when the
    box is under 20 px.

    >>> hand_box(Keypoint(50, 10), Keypoint(50, 40), Keypoint(50, 70), 200, 200)
    (27, 57, 45)
    """
    if shoulder is None or elbow is None or wrist is None:
        return None
    side = 1.5 * max(math.hypot(wrist.x - elbow.x, wrist.y - elbow.y),
                     0.9 * math.hypot(elbow.x - shoulder.x, elbow.y - shoulder.y))
    x = max(0.0, wrist.x + 0.33 * (wrist.x - elbow.x) - side / 2)
    y = max(0.0, wrist.y + 0.33 * (wrist.y - elbow.y) - side / 2)
    side = min(side, width - x if x + side > width else side, height - y if y + side > height else side)
    return (int(x), int(y), int(side)) if side >= MIN_BOX else None


def hand_boxes(body: list[Keypoint | None], height: int, width: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of each hand's square box inside the image, left arm first; boxes under 20 px are skipped.

    >>> hand_boxes([None] * 2 + [Keypoint(50, 10), Keypoint(50, 40), Keypoint(50, 70)] + [None] * 13, 200, 200)
    [(27, 57, 45)]
    """
    boxes = (hand_box(body[s], body[e], body[w], height, width) for s, e, w in ARMS)
    return [box for box in boxes if box is not None]


def hand_heatmaps(net, crop_bgr: np.ndarray) -> np.ndarray:
    """The hand network's 22 maps on a BGR crop, averaged over the four scales at 128×128: [128, 128, 22]."""
    import torch

    blurred = ndimage.gaussian_filter(crop_bgr.astype(np.float32), sigma=(0.8, 0.8, 0), mode="mirror", truncate=4.0)
    blurred = np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    total = np.zeros((MAP_SIZE, MAP_SIZE, HAND_POINTS + 1), np.float64)
    for size in SCALES:
        method = Image.Resampling.LANCZOS if size > crop_bgr.shape[0] else Image.Resampling.BOX
        square = np.asarray(Image.fromarray(blurred).resize((size, size), method)).astype(np.float32)
        x = torch.from_numpy(np.ascontiguousarray(square.transpose(2, 0, 1)[None]) / 256.0 - 0.5)
        with torch.no_grad():
            maps = net(x)[0].numpy().transpose(1, 2, 0)  # [size/8, size/8, 22]
        maps = resize_maps(resize_maps(maps, size // STRIDE * STRIDE, size // STRIDE * STRIDE), MAP_SIZE, MAP_SIZE)
        total += maps / len(SCALES)
    return total


def strongest_blob_peak(raw: np.ndarray) -> tuple[int, int] | None:
    """(row, col) of the maximum inside the 8-connected blob (of the σ=3 smoothed map above 0.05) holding the most
    heat; None when nothing clears the threshold."""
    blobs, count = ndimage.label(ndimage.gaussian_filter(raw, sigma=3) > THRESHOLD, structure=np.ones((3, 3)))
    if count == 0:
        return None
    heat = ndimage.sum(raw, blobs, index=np.arange(1, count + 1))
    kept = np.where(blobs == int(np.argmax(heat)) + 1, raw, 0)
    row, col = np.unravel_index(int(np.argmax(kept)), kept.shape)
    return int(row), int(col)


def detect_hands(net, rgb: np.ndarray, body: list[Keypoint | None]) -> tuple[list[Keypoint] | None, ...]:
    """(left hand, right hand): each found hand's 21 points in pixels of `rgb`, None for a hand without a box. A
    point whose peak sits on the box's top row or left column gets −1 for that coordinate (never drawn), as the
    extension reports it in its pose JSON (modules/controlnet/preprocessors/openpose/pose_json.py)."""
    out: list[list[Keypoint] | None] = []
    bgr = rgb[:, :, ::-1]
    for s, e, w in ARMS:
        box = hand_box(body[s], body[e], body[w], *rgb.shape[:2])
        if box is None:
            out.append(None)
            continue
        x, y, side = box
        maps = hand_heatmaps(net, np.ascontiguousarray(bgr[y:y + side, x:x + side]))
        points: list[Keypoint] = []
        for part in range(HAND_POINTS):
            peak = strongest_blob_peak(maps[:, :, part])
            px, py = (0, 0) if peak is None else (int(peak[1] * side / MAP_SIZE), int(peak[0] * side / MAP_SIZE))
            points.append(Keypoint(px + x if px else -1.0, py + y if py else -1.0))
        out.append(points)
    return tuple(out)
