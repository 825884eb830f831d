"""Invisible watermark: the "dwtDct" mark of the `invisible-watermark` package, which the original Stable Diffusion
scripts put on every picture they wrote ("StableDiffusionV1"), so that detectors that read that mark find it.

The method, in this package's own terms: convert RGB to OpenCV's YUV, take the first level of the Haar wavelet
transform of the U plane, and in each 4×4 block of its approximation band quantise the largest coefficient other
than the block's first one: its magnitude is set to (k + 1/4)·36 for a 0 bit or (k + 3/4)·36 for a 1 bit. The
message's bits repeat over the blocks in reading order; reading takes each bit's majority over its blocks.

Pure numpy: no OpenCV or PyWavelets (the one-level Haar transform is a 2×2 sum and difference). Off unless the
"enable_invisible_watermark" setting is on (docs/pipeline.md).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

MESSAGE = "StableDiffusionV1"
SCALE = 36.0
BLOCK = 4
MARGIN = 4.0  # how far the marked coefficient stays above the block's others (8-bit rounding moves them ~1)
# OpenCV's YUV (COLOR_RGB2YUV): Y = .299 R + .587 G + .114 B, U = .492 (B - Y) + 128, V = .877 (R - Y) + 128
_U_FROM_B, _V_FROM_R = 0.492, 0.877


def message_bits(text: str) -> np.ndarray:
    """UTF-8 bytes → bits, most significant first (numpy's `unpackbits`, as the package does).

    >>> message_bits("A").tolist()
    [0, 1, 0, 0, 0, 0, 0, 1]
    """
    return np.unpackbits(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


def capacity(width: int, height: int) -> int:
    """How many 4×4 blocks the half-size approximation band of a picture has (one bit each).

    >>> capacity(256, 256), capacity(64, 64)
    (1024, 64)
    """
    return (height // 8) * (width // 8)


def _to_yuv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack([y, _U_FROM_B * (b - y) + 128.0, _V_FROM_R * (r - y) + 128.0], axis=-1)


def _to_rgb(yuv: np.ndarray) -> np.ndarray:
    y, u, v = yuv[..., 0], yuv[..., 1] - 128.0, yuv[..., 2] - 128.0
    b = y + u / _U_FROM_B
    r = y + v / _V_FROM_R
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def _haar(plane: np.ndarray) -> tuple[np.ndarray, ...]:
    """One level of the orthonormal 2-D Haar transform: (approximation, three details), each half size."""
    a, b = plane[0::2, 0::2], plane[0::2, 1::2]
    c, d = plane[1::2, 0::2], plane[1::2, 1::2]
    return (a + b + c + d) / 2, (a - b + c - d) / 2, (a + b - c - d) / 2, (a - b - c + d) / 2


def _inverse_haar(ll, lh, hl, hh) -> np.ndarray:
    plane = np.empty((ll.shape[0] * 2, ll.shape[1] * 2))
    plane[0::2, 0::2] = (ll + lh + hl + hh) / 2
    plane[0::2, 1::2] = (ll - lh + hl - hh) / 2
    plane[1::2, 0::2] = (ll + lh - hl - hh) / 2
    plane[1::2, 1::2] = (ll - lh - hl + hh) / 2
    return plane


def _blocks(band: np.ndarray) -> np.ndarray:
    """[h, w] band → [n, 16] view of its 4×4 blocks in reading order (h, w multiples of 4)."""
    h, w = band.shape
    return band.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK * BLOCK)


def _unblocks(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return blocks.reshape(h // BLOCK, w // BLOCK, BLOCK, BLOCK).swapaxes(1, 2).reshape(h, w)


def _strongest(blocks: np.ndarray) -> np.ndarray:
    """Index (1…15) of each block's largest-magnitude coefficient after the first."""
    return np.argmax(np.abs(blocks[:, 1:]), axis=1) + 1


def embed(image: Image.Image, text: str = MESSAGE) -> Image.Image:
    """The picture with `text` marked into it; pictures with fewer blocks than the message has bits come back
    unchanged (there is no room for one copy)."""
    bits = message_bits(text)
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    if capacity(w, h) < len(bits):
        return image
    yuv = _to_yuv(rgb)
    ll, *details = _haar(yuv[:h, :w, 1])  # [h/2, w/2] each
    bh, bw = ll.shape[0] // BLOCK * BLOCK, ll.shape[1] // BLOCK * BLOCK  # whole blocks only, as the package
    blocks = _blocks(ll[:bh, :bw]).copy()  # [n, 16]
    rows, pos = np.arange(len(blocks)), _strongest(blocks)
    value = blocks[rows, pos]
    wanted = np.resize(bits, len(blocks))  # the message, repeated over the blocks
    level = np.abs(value) // SCALE + 0.25 + 0.5 * wanted
    # One deliberate difference: where the quantised value would fall below another coefficient of the block, it
    # moves up by whole steps, so that the reader still finds it in the same place (same reading rule).
    others = np.abs(blocks[:, 1:]).copy()
    others[rows, pos - 1] = 0
    level += np.maximum(0.0, np.ceil((others.max(axis=1) + MARGIN) / SCALE - level))
    blocks[rows, pos] = np.sign(value + (value == 0)) * level * SCALE
    ll[:bh, :bw] = _unblocks(blocks, (bh, bw))
    yuv[:h, :w, 1] = _inverse_haar(ll, *details)
    out = np.asarray(rgb).copy()
    out[:h, :w] = _to_rgb(yuv[:h, :w])
    return Image.fromarray(out, mode="RGB")


def read_bits(image: Image.Image, length: int) -> np.ndarray:
    """The `length` bits a marked picture carries: each bit's majority over the blocks that hold it."""
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    ll = _haar(_to_yuv(rgb)[:h, :w, 1])[0]
    blocks = _blocks(ll[:ll.shape[0] // BLOCK * BLOCK, :ll.shape[1] // BLOCK * BLOCK])
    value = np.abs(blocks[np.arange(len(blocks)), _strongest(blocks)])
    votes = (value % SCALE > 0.5 * SCALE).astype(np.float64)  # [n]
    sums = np.bincount(np.arange(len(votes)) % length, weights=votes, minlength=length)
    counts = np.bincount(np.arange(len(votes)) % length, minlength=length)
    return (sums / np.maximum(counts, 1) * 255 > 127).astype(np.uint8)


def read(image: Image.Image, length: int = len(MESSAGE.encode("utf-8"))) -> bytes:
    """The `length`-byte message of a marked picture (noise for an unmarked one)."""
    return np.packbits(read_bits(image, length * 8)).tobytes()
