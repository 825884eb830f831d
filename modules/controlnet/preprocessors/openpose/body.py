"""Body pose from the network's heatmaps and part affinity fields (PAFs): the CMU OpenPose procedure the extension
runs. Peaks of each part's smoothed heatmap are candidate keypoints; a limb between two candidates scores the PAF
sampled along the segment; limbs are matched greedily and chained into people sharing keypoints.

Parts are numbered as OpenPose's COCO-18: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8-10 right leg, 11-13 left
leg, 14/15 eyes, 16/17 ears. Coordinates are pixels of the image given to `body_maps`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

PARTS = 18
BOX_SIZE = 368  # the network sees the image scaled to half this height
STRIDE = 8
PAD_VALUE = 128
PEAK_THRESHOLD = 0.1
PAF_THRESHOLD = 0.05
SAMPLES = 10  # points along a limb where the PAF is read
# Limbs as (part a, part b), and the PAF channels (x, y) that point from a to b.
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17))
LIMB_PAFS = ((12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7), (8, 9),
             (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27))
SEEDING_LIMBS = 17  # the two ear-to-shoulder limbs only join people, never start one


@dataclass(frozen=True)
class Keypoint:
    x: float
    y: float
    score: float = 1.0


def resize_maps(maps: np.ndarray, width: int, height: int) -> np.ndarray:
    """[h, w, C] float maps resized channel by channel (Lanczos up, box down, as the extension's resizes)."""
    method = Image.Resampling.LANCZOS if width + height > maps.shape[1] + maps.shape[0] else Image.Resampling.BOX
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(maps[:, :, c]), mode="F")
                                .resize((width, height), method)) for c in range(maps.shape[2])], axis=2)


def network_input(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The image as the body network takes it: BGR, scaled to 184 px high, padded to multiples of 8 with grey,
    value/256 − 0.5, [1, 3, h8, w8]; and the scaled size (h, w) before padding."""
    h, w = rgb.shape[:2]
    scale = 0.5 * BOX_SIZE / h
    size = (int(w * scale), int(h * scale))
    method = Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX
    small = np.asarray(Image.fromarray(rgb).resize(size, method))[:, :, ::-1]  # [h', w', 3] BGR
    padded = np.full((-(-size[1] // STRIDE) * STRIDE, -(-size[0] // STRIDE) * STRIDE, 3), PAD_VALUE, np.float32)
    padded[:size[1], :size[0]] = small
    return (padded.transpose(2, 0, 1)[None] / 256.0 - 0.5).astype(np.float32), (size[1], size[0])


def full_size(maps: np.ndarray, scaled: tuple[int, int], height: int, width: int) -> np.ndarray:
    """Network maps [C, h8/8, w8/8] → [height, width, C]: ×8, padding cropped, then to the image size."""
    hwc = maps.transpose(1, 2, 0).astype(np.float32)
    up = resize_maps(hwc, hwc.shape[1] * STRIDE, hwc.shape[0] * STRIDE)[:scaled[0], :scaled[1]]
    return resize_maps(up, width, height)


def body_maps(net, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [H, W, 3] RGB → (heatmaps [H, W, 19], PAFs [H, W, 38]) from the body network."""
    import torch

    x, scaled = network_input(rgb)
    with torch.no_grad():
        pafs, heat = net(torch.from_numpy(x))
    h, w = rgb.shape[:2]
    return full_size(heat[0].numpy(), scaled, h, w), full_size(pafs[0].numpy(), scaled, h, w)


def find_peaks(heatmaps: np.ndarray) -> list[np.ndarray]:
    """Per part, its candidates as rows (x, y, score, id): local maxima (≥ the 4 neighbours, zero outside) of the
    σ=3 smoothed heatmap above 0.1, row by row; the score is the unsmoothed map's; ids count across parts."""
    out, next_id = [], 0
    for part in range(PARTS):
        raw = heatmaps[:, :, part]
        smooth = np.pad(gaussian_filter(raw, sigma=3), 1)
        centre = smooth[1:-1, 1:-1]
        peak = ((centre >= smooth[:-2, 1:-1]) & (centre >= smooth[2:, 1:-1]) & (centre >= smooth[1:-1, :-2])
                & (centre >= smooth[1:-1, 2:]) & (centre > PEAK_THRESHOLD))
        ys, xs = np.nonzero(peak)
        ids = np.arange(next_id, next_id + len(xs))
        out.append(np.stack([xs, ys, raw[ys, xs], ids], axis=1).astype(np.float64).reshape(-1, 4))
        next_id += len(xs)
    return out


def limb_score(paf_xy: np.ndarray, a: np.ndarray, b: np.ndarray, image_height: int) -> float | None:
    """How well the PAF points from a to b: its mean projection on the a→b direction at 10 points, minus a
    penalty for limbs longer than half the image; None unless > 80 % of the points clear 0.05 and the score > 0."""
    vec = b[:2] - a[:2]
    norm = max(0.001, math.hypot(vec[0], vec[1]))
    unit = vec / norm
    xs = np.rint(np.linspace(a[0], b[0], SAMPLES)).astype(int)
    ys = np.rint(np.linspace(a[1], b[1], SAMPLES)).astype(int)
    along = paf_xy[ys, xs, 0] * unit[0] + paf_xy[ys, xs, 1] * unit[1]  # [SAMPLES]
    score = float(along.sum() / SAMPLES) + min(0.5 * image_height / norm - 1, 0)
    if np.count_nonzero(along > PAF_THRESHOLD) > 0.8 * SAMPLES and score > 0:
        return score
    return None


def match_limbs(pafs: np.ndarray, peaks: list[np.ndarray], image_height: int) -> list[np.ndarray | None]:
    """Per limb type, its accepted limbs as rows (id a, id b, score), best first, each candidate used once;
    None where one of its two parts has no candidate."""
    out: list[np.ndarray | None] = []
    for (pa, pb), channels in zip(LIMBS, LIMB_PAFS):
        cand_a, cand_b = peaks[pa], peaks[pb]
        if len(cand_a) == 0 or len(cand_b) == 0:
            out.append(None)
            continue
        paf_xy = pafs[:, :, list(channels)]
        scored = [(i, j, s) for i in range(len(cand_a)) for j in range(len(cand_b))
                  if (s := limb_score(paf_xy, cand_a[i], cand_b[j], image_height)) is not None]
        scored.sort(key=lambda t: t[2], reverse=True)  # stable: equal scores keep their order
        used_a, used_b, rows = set(), set(), []
        for i, j, s in scored:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            rows.append((cand_a[i][3], cand_b[j][3], s))
            if len(rows) >= min(len(cand_a), len(cand_b)):
                break
        out.append(np.array(rows, dtype=np.float64).reshape(-1, 3))
    return out
