"""Faces for openpose_face / openpose_full: a square box around the nose sized by the eyes and ears, the face
network on it at 384×384, and per landmark the strongest heat above 0.05 (landmarks never reaching it are left out).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.controlnet.preprocessors.openpose.body import Keypoint

NET_SIZE = 384
THRESHOLD = 0.05
MIN_BOX = 20
NOSE, EYES, EARS = 0, (14, 15), (16, 17)


def face_box(body: list[Keypoint | None], height: int, width: int) -> tuple[int, int, int] | None:
    """(x, y, side) of the face's box: 3× the farthest eye's or 1.5× the farthest ear's distance (the larger axis)
    from the nose, both ways; clipped as the extension clips it; None without nose and an eye or ear, or under 20 px.

    >>> face_box([Keypoint(100, 100)] + [None] * 13 + [Keypoint(90, 95), Keypoint(110, 95), None, None], 400, 400)
    (70, 70, 60)
    """
    nose = body[NOSE]
    if nose is None or all(body[i] is None for i in (*EYES, *EARS)):
        return None
    half = 0.0
    for indices, factor in ((EYES, 3.0), (EARS, 1.5)):
        for point in (body[i] for i in indices):
            if point is not None:
                half = max(half, factor * max(abs(nose.x - point.x), abs(nose.y - point.y)))
    x, y = max(0.0, nose.x - half), max(0.0, nose.y - half)
    # The extension compares the box's far edge with its half size, and crops to the image only then.
    side = min(width - x if x + half > width else 2 * half, height - y if y + half > height else 2 * half)
    return (int(x), int(y), int(side)) if side >= MIN_BOX else None


def face_heatmaps(net, crop_bgr: np.ndarray) -> np.ndarray:
    """The face network's last 71 maps on a BGR crop, resized (bilinear, corners aligned) to the crop: [71, h, w]."""
    import torch
    import torch.nn.functional as F

    h, w = crop_bgr.shape[:2]
    method = Image.Resampling.LANCZOS if h + w <= NET_SIZE * 2 else Image.Resampling.BOX
    square = np.asarray(Image.fromarray(crop_bgr).resize((NET_SIZE, NET_SIZE), method)).astype(np.float32)
    x = torch.from_numpy(np.ascontiguousarray(square.transpose(2, 0, 1)[None]) / 256.0 - 0.5)  # [1, 3, 384, 384]
    with torch.no_grad():
        maps = F.interpolate(net(x), (h, w), mode="bilinear", align_corners=True)  # [1, 71, h, w]
    return maps[0].numpy()


def detect_face(net, rgb: np.ndarray, body: list[Keypoint | None]) -> list[Keypoint] | None:
    """The face's landmarks in pixels of `rgb`: for each map (the background's too, as the extension reads them)
    reaching 0.05, its first maximum. A coordinate on the box's top row or left column is −1 (never drawn), as the
    extension reports it in its pose JSON (modules/controlnet/preprocessors/openpose/pose_json.py)."""
    box = face_box(body, *rgb.shape[:2])
    if box is None:
        return None
    x, y, side = box
    maps = face_heatmaps(net, np.ascontiguousarray(rgb[y:y + side, x:x + side, ::-1]))
    points = []
    for heat in maps:
        if (heat > THRESHOLD).any():
            py, px = np.unravel_index(int(np.argmax(heat)), heat.shape)
            points.append(Keypoint(float(px + x) if px else -1.0, float(py + y) if py else -1.0))
    return points or None
