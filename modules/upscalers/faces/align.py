"""Face alignment and paste-back, as facexlib's FaceRestoreHelper does it for GFPGAN and CodeFormer, with numpy,
PIL and torch instead of OpenCV.

A face's 5 landmarks are mapped onto the FFHQ 512×512 template by the least-squares similarity transform
(rotation, uniform scale, translation); the image is warped into a 512×512 crop, the crop is restored, and the
restored crop is warped back and blended in through a soft mask: the crop's footprint, eroded (so the warp's
fuzzy border never shows) and blurred, both by a width proportional to the face's size.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

FACE_SIZE = 512
# The 5 landmarks of an FFHQ face at 512×512 (eyes, nose tip, mouth corners), facexlib's template.
FFHQ_TEMPLATE = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                          [201.26117, 371.41043], [313.08905, 371.15118]])
BORDER_RGB = (132, 133, 135)  # the grey facexlib fills the crop with where the face runs off the image


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 matrix M of the similarity (x' = a·x − b·y + tx, y' = b·x + a·y + ty) that best maps the points
    src [N, 2] onto dst [N, 2] in the least-squares sense (N ≥ 2).

    >>> src = np.array([[0., 0], [1, 0], [0, 1]])
    >>> (np.round(similarity_transform(src, src * 2 + 3), 6) + 0.0).tolist()  # + 0.0: no signed zeros
    [[2.0, 0.0, 3.0], [0.0, 2.0, 3.0]]
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    n = src.shape[0]
    rows = np.zeros((2 * n, 4))
    rows[0::2] = np.stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)], 1)  # x' equations
    rows[1::2] = np.stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)], 1)  # y' equations
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows, dst.reshape(-1), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2×3 affine matrix."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], axis=1)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """points [N, 2] mapped by a 2×3 matrix."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def _pil_affine(matrix: np.ndarray) -> tuple:
    """PIL's AFFINE data for a transform whose *output → input* map is `matrix`."""
    return tuple(float(v) for v in matrix.reshape(-1))


def align_matrix(landmarks: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """Image → crop transform putting the face's 5 landmarks on the FFHQ template scaled to `size`."""
    return similarity_transform(landmarks, FFHQ_TEMPLATE * (size / 512.0))


def warp_face(image: Image.Image, matrix: np.ndarray, size: int = FACE_SIZE) -> Image.Image:
    """The size×size aligned crop: each crop pixel reads the image where `matrix` (image → crop) came from."""
    return image.convert("RGB").transform((size, size), Image.Transform.AFFINE, _pil_affine(invert_affine(matrix)),
                                          resample=Image.Resampling.BILINEAR, fillcolor=BORDER_RGB)


def crop_box(matrix: np.ndarray, size: int, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The pixel box (left, top, right, bottom) of the image that the crop covers, clipped to the image."""
    corners = apply_affine(invert_affine(matrix), np.array([[0, 0], [size, 0], [0, size], [size, size]]))
    left, top = np.floor(corners.min(0)).astype(int)
    right, bottom = np.ceil(corners.max(0)).astype(int)
    return max(left, 0), max(top, 0), min(right, image_size[0]), min(bottom, image_size[1])


def _erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """mask [1, 1, H, W]: the minimum over a (2r+1)² window; beyond the image edge nothing erodes (as OpenCV)."""
    if radius <= 0:
        return mask
    return -F.max_pool2d(-mask, 2 * radius + 1, stride=1, padding=radius)  # max_pool pads with -inf


def _blur(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """mask [1, 1, H, W] blurred by a separable Gaussian of half-width `radius` (OpenCV's sigma for that kernel)."""
    if radius <= 0:
        return mask
    sigma = 0.3 * (radius - 1) + 0.8
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=mask.dtype) / sigma) ** 2)
    taps = taps / taps.sum()
    mask = F.conv2d(F.pad(mask, (radius, radius, 0, 0), mode="replicate"), taps.view(1, 1, 1, -1))
    return F.conv2d(F.pad(mask, (0, 0, radius, radius), mode="replicate"), taps.view(1, 1, -1, 1))


def soft_mask(matrix: np.ndarray, size: int, image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(support, soft) masks [H, W] in [0, 1] for pasting a crop back: `support` is the crop's footprint eroded by
    a pixel; `soft` is that eroded again and blurred by a width of 1/20 of the face's side, so it is zero
    wherever `support` is."""
    full = Image.new("L", (size, size), 255).transform(image_size, Image.Transform.AFFINE, _pil_affine(matrix),
                                                        resample=Image.Resampling.BILINEAR, fillcolor=0)
    footprint = torch.from_numpy(np.asarray(full, np.float32) / 255.0)[None, None]  # [1, 1, H, W]
    support = _erode(footprint, 1)
    edge = int(math.sqrt(float(support.sum()))) // 20
    soft = _blur(_erode(support, edge), edge) * (support > 0)
    return support[0, 0], soft[0, 0]


def paste_face(image: Image.Image, face: Image.Image, matrix: np.ndarray) -> Image.Image:
    """`image` with the (restored) crop `face` warped back by the inverse of `matrix` and blended in softly;
    pixels outside the crop's footprint are returned unchanged."""
    size = face.width
    back = face.convert("RGB").transform(image.size, Image.Transform.AFFINE, _pil_affine(matrix),
                                         resample=Image.Resampling.BILINEAR)
    support, soft = soft_mask(matrix, size, image.size)
    base = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32))  # [H, W, 3]
    restored = torch.from_numpy(np.asarray(back, np.float32)) * support[..., None]
    blended = soft[..., None] * restored + (1 - soft[..., None]) * base
    return Image.fromarray(blended.round().clamp(0, 255).to(torch.uint8).numpy(), mode="RGB")


def restore_faces(image: Image.Image, landmarks: Sequence[np.ndarray],
                  restore_crop: Callable[[Image.Image], Image.Image], size: int = FACE_SIZE) -> Image.Image:
    """Each face (given by its 5 landmarks) aligned, restored by `restore_crop` (size×size RGB in and out) and
    pasted back, one after the other."""
    out = image.convert("RGB")
    for points in landmarks:
        matrix = align_matrix(points, size)
        if abs(np.linalg.det(matrix[:, :2])) < 1e-12:  # landmarks on one point: no face to align
            continue
        restored = restore_crop(warp_face(out, matrix, size))
        if restored.size != (size, size):
            restored = restored.resize((size, size), Image.Resampling.LANCZOS)
        out = paste_face(out, restored, matrix)
    return out
