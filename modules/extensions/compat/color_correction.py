"""A1111's img2img colour correction (`processing.setup_color_correction` / `apply_color_correction`): the result
takes the colours of a reference image and keeps its own lightness. A1111 matches histograms in LAB with OpenCV and
scikit-image and blends by luminosity; Easel has neither library, so the same idea runs in YCbCr with numpy: the
chroma channels (Cb, Cr) are matched to the reference's, the luma (Y) is the image's own."""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.pipeline.outpaint import match_histograms


def setup_color_correction(image: Image.Image) -> np.ndarray:
    """The reference's colours: its YCbCr pixels [H·W, 3], to hand to apply_color_correction."""
    return np.asarray(image.convert("RGB").convert("YCbCr")).reshape(-1, 3).astype(np.float64)


def apply_color_correction(correction: np.ndarray, original_image: Image.Image) -> Image.Image:
    """`original_image` with its chroma matched to the reference `correction`, its luma kept."""
    ycbcr = np.asarray(original_image.convert("RGB").convert("YCbCr")).astype(np.float64)  # [H, W, 3]
    height, width, _ = ycbcr.shape
    matched = match_histograms(ycbcr.reshape(-1, 3), correction).reshape(height, width, 3)  # [H, W, 3]
    matched[..., 0] = ycbcr[..., 0]  # lightness from the image itself (A1111's luminosity blend)
    out = np.clip(np.rint(matched), 0, 255).astype(np.uint8)
    return Image.fromarray(out, "YCbCr").convert("RGB")
