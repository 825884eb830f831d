"""Faces in a PIL image with RetinaFace: anchors, decoding of the heads' offsets, score threshold and NMS.

Settings follow what A1111 asks of facexlib: the image is scaled up (never down) so its short side is at least
640 pixels, faces scoring above 0.8 are kept, overlaps above IoU 0.4 are suppressed, and faces whose eyes are
closer than 5 pixels (profiles, specks) are dropped. Coordinates are continuous pixel coordinates of the input
image (pixel (i, j) covers [j, j + 1) × [i, i + 1)), the convention PIL's affine transforms use too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

STEPS = (8, 16, 32)  # feature-map strides of the three heads
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))  # anchor sides in pixels, per stride
VARIANCES = (0.1, 0.2)  # the box-coding variances RetinaFace was trained with (centre, size)
MEAN_BGR = (104.0, 117.0, 123.0)
MIN_SIDE, CONFIDENCE, NMS_IOU, MIN_EYE_DISTANCE = 640, 0.8, 0.4, 5.0
PRE_NMS, MAX_FACES = 5000, 750  # candidates kept before NMS and faces after (RetinaFace's own test settings)


@dataclass(frozen=True)
class Face:
    """One detected face. landmarks [5, 2]: left eye, right eye, nose tip, left and right mouth corner (x, y)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[0] - self.landmarks[1]))


def anchors(height: int, width: int) -> torch.Tensor:
    """Anchor boxes [N, 4] as (cx, cy, w, h) relative to the image, in the heads' order: per stride, per
    feature-map row, per column, per anchor size.

    >>> a = anchors(64, 96)  # (8·12 + 4·6 + 2·3) cells × 2 anchor sizes
    >>> a.shape, a[0].tolist()
    (torch.Size([252, 4]), [0.0416666679084301, 0.0625, 0.1666666716337204, 0.25])
    """
    rows = []
    for step, sizes in zip(STEPS, ANCHOR_SIZES):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        cy = (torch.arange(fh, dtype=torch.float32) + 0.5) * step / height  # [fh]
        cx = (torch.arange(fw, dtype=torch.float32) + 0.5) * step / width  # [fw]
        grid_y, grid_x = torch.meshgrid(cy, cx, indexing="ij")  # [fh, fw]
        centres = torch.stack([grid_x, grid_y], -1)[:, :, None, :].expand(fh, fw, len(sizes), 2)
        wh = torch.tensor([[s / width, s / height] for s in sizes])[None, None].expand(fh, fw, len(sizes), 2)
        rows.append(torch.cat([centres, wh], -1).reshape(-1, 4))  # [fh * fw * sizes, 4]
    return torch.cat(rows)


def decode_boxes(offsets: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Box offsets [N, 4] → corners [N, 4] (x1, y1, x2, y2), relative to the image (SSD box coding)."""
    centre = priors[:, :2] + offsets[:, :2] * VARIANCES[0] * priors[:, 2:]
    size = priors[:, 2:] * torch.exp(offsets[:, 2:] * VARIANCES[1])
    return torch.cat([centre - size / 2, centre + size / 2], dim=1)


def decode_landmarks(offsets: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Landmark offsets [N, 10] → points [N, 5, 2], relative to the image."""
    points = offsets.reshape(-1, 5, 2)
    return priors[:, None, :2] + points * VARIANCES[0] * priors[:, None, 2:]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> list[int]:
    """Non-maximum suppression (greedy, by score): indices of the boxes kept, best first.

    >>> b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    >>> nms(b, torch.tensor([0.9, 0.8, 0.7]), 0.4)
    [0, 2]
    """
    from torchvision.ops import nms as torchvision_nms

    return torchvision_nms(boxes.float(), scores.float(), iou).tolist()


def detector_input(image: Image.Image, min_side: int) -> tuple[torch.Tensor, float]:
    """(BGR tensor [1, 3, h, w] minus the mean, the scale applied): scaled up so the short side is ≥ min_side."""
    scale = max(1.0, min_side / min(image.size))
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.BILINEAR)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)[:, :, ::-1] - np.array(MEAN_BGR, np.float32)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None], scale  # [1, 3, h, w]


def detect_faces(net, image: Image.Image, confidence: float = CONFIDENCE, nms_iou: float = NMS_IOU,
                 min_side: int = MIN_SIDE, min_eye_distance: float = MIN_EYE_DISTANCE) -> list[Face]:
    """Faces found by `net` (a RetinaFace), best first, in the coordinates of `image`."""
    param = next(net.parameters())
    x, scale = detector_input(image, min_side)
    height, width = x.shape[-2:]
    with torch.inference_mode():
        offsets, probs, marks = net(x.to(param.device, param.dtype))  # [1, N, 4], [1, N, 2], [1, N, 10]
    priors = anchors(height, width).to(offsets.device)  # [N, 4]
    if priors.shape[0] != offsets.shape[1]:
        raise RuntimeError(f"RetinaFace gave {offsets.shape[1]} anchors for {width}x{height}, "
                           f"expected {priors.shape[0]}")
    size = torch.tensor([width, height], dtype=torch.float32, device=offsets.device) / scale
    boxes = decode_boxes(offsets[0].float(), priors) * size.repeat(2)  # [N, 4] image pixels
    points = decode_landmarks(marks[0].float(), priors) * size  # [N, 5, 2]
    scores = probs[0, :, 1].float()  # [N]
    chosen = (scores > confidence).nonzero()[:, 0]
    chosen = chosen[scores[chosen].argsort(descending=True)[:PRE_NMS]]
    boxes, points, scores = boxes[chosen], points[chosen], scores[chosen]
    faces = [Face(tuple(boxes[i].tolist()), float(scores[i]), points[i].cpu().numpy().astype(np.float64))
             for i in nms(boxes, scores, nms_iou)[:MAX_FACES]]
    return [f for f in faces if f.eye_distance >= min_eye_distance]

