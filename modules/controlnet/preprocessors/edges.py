"""Edge and line preprocessors that need no network weights: canny, threshold, scribble_xdog, lineart_standard,
invert. numpy + scipy.ndimage; images are uint8 [H, W, 3]."""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from modules.controlnet.preprocessors.registry import Params

TAN_22_5 = 0.41421356  # tan(22.5°): the sector bounds of the gradient direction
TAN_67_5 = 2.41421356


def scale_short_side(image: np.ndarray, resolution: int) -> np.ndarray:
    """The image scaled so its short side is `resolution` (bicubic up, box down), as detection runs at that size."""
    h, w = image.shape[:2]
    k = resolution / min(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    if size == (w, h):
        return image
    method = Image.Resampling.BICUBIC if k > 1 else Image.Resampling.BOX
    return np.asarray(Image.fromarray(image).resize(size, method))


def gray3(channel: np.ndarray) -> np.ndarray:
    """[H, W] → [H, W, 3] uint8."""
    return np.repeat(np.clip(channel, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3×3 Sobel gradients of each channel, borders mirrored without repeating the edge pixel (OpenCV's default)."""
    p = np.pad(image.astype(np.float32), ((1, 1), (1, 1), (0, 0)), mode="reflect")  # [H+2, W+2, C]
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])  # [H, W, C]
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])  # [H, W, C]
    return gx, gy


def _neighbours(mag: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """mag shifted so that out[y, x] = mag[y + dy, x + dx] (0 outside)."""
    p = np.pad(mag, 1)
    h, w = mag.shape
    return p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


def canny_edges(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Canny's detector as OpenCV runs it on colour images: per pixel the channel with the strongest L1 Sobel
    gradient, non-maximum suppression along the gradient's direction (one of 4 sectors), then hysteresis: weak
    edges (> low) are kept where they connect (8-neighbourhood) to a strong one (> high). → bool [H, W]."""
    gx, gy = sobel(image)
    mags = np.abs(gx) + np.abs(gy)  # [H, W, C]
    pick = mags.argmax(axis=2)[:, :, None]
    gx, gy, mag = (np.take_along_axis(a, pick, axis=2)[:, :, 0] for a in (gx, gy, mags))  # [H, W] each
    ax, ay = np.abs(gx), np.abs(gy)
    horizontal = ay <= ax * TAN_22_5  # gradient along x: compare left/right
    vertical = ay >= ax * TAN_67_5
    same_sign = gx * gy > 0
    keep = np.zeros(mag.shape, bool)
    for sector, (dy, dx) in ((horizontal, (0, 1)), (vertical, (1, 0)),
                             (~horizontal & ~vertical & same_sign, (1, 1)),
                             (~horizontal & ~vertical & ~same_sign, (1, -1))):
        local_max = (mag > _neighbours(mag, -dy, -dx)) & (mag >= _neighbours(mag, dy, dx))
        keep |= sector & local_max
    weak = keep & (mag > low)
    strong = keep & (mag > high)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), bool))
    if count == 0:
        return weak
    has_strong = np.zeros(count + 1, bool)
    has_strong[labels[strong]] = True
    has_strong[0] = False
    return has_strong[labels]


def canny(image: np.ndarray, p: Params) -> np.ndarray:
    """White one-pixel edges on black; threshold_a / threshold_b are the low / high thresholds."""
    img = scale_short_side(image, p.resolution)
    return gray3(canny_edges(img, min(p.a, p.b), max(p.a, p.b)) * 255)


def threshold(image: np.ndarray, p: Params) -> np.ndarray:
    """White where every channel is above the binarization threshold (threshold_a), black elsewhere."""
    img = scale_short_side(image, p.resolution)
    return gray3((img.min(axis=2) > p.a) * 255)


def scribble_xdog(image: np.ndarray, p: Params) -> np.ndarray:
    """Scribble lines from a difference of Gaussians (σ 0.5 and 5); a lower XDoG threshold draws more lines."""
    img = scale_short_side(image, p.resolution).astype(np.float32)
    fine = ndimage.gaussian_filter(img, sigma=(0.5, 0.5, 0))
    coarse = ndimage.gaussian_filter(img, sigma=(5.0, 5.0, 0))
    darkening = np.clip((coarse - fine).min(axis=2), -255, 0)  # ≤ 0 where a line is darker than its surround
    return gray3((-2 * darkening > p.a) * 255)


def lineart_standard(image: np.ndarray, p: Params) -> np.ndarray:
    """Dark lines on a light background → white lines on black, strength normalised by the median line."""
    img = scale_short_side(image, p.resolution).astype(np.float32)
    blurred = ndimage.gaussian_filter(img, sigma=(6.0, 6.0, 0))
    intensity = np.clip((blurred - img).min(axis=2), 0, 255)  # [H, W]
    lines = intensity[intensity > 8]
    scale = max(16.0, float(np.median(lines))) if lines.size else 16.0
    return gray3(intensity / scale * 127)


def invert(image: np.ndarray, p: Params) -> np.ndarray:
    """A white-background line drawing → the white-on-black map ControlNets read."""
    return 255 - image


def none(image: np.ndarray, p: Params) -> np.ndarray:
    """The image as it is (it already is a control map)."""
    return image
