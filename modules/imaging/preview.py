"""Live previews: what a Job holds as preview (a PIL image or latents) → an image, with no VAE call.

Latents use A1111's "Approx cheap" linear map from SD1 latent channels to RGB
(`sd_samplers_common.latent_to_preview_approx`); shared by the UI and the API's /progress. torch is imported only
to approximate latents, which exist only once torch is loaded: the page and the API are built without it (issue 6).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import torch

APPROX_RGB = ((0.298, 0.207, 0.208), (0.187, 0.286, 0.173), (-0.158, 0.189, 0.264), (-0.184, -0.271, -0.473))


def latent_preview(latents: torch.Tensor) -> Image.Image:
    """A cheap RGB approximation of the first latent of a batch, [B, 4, h, w] → PIL (h × w)."""
    import torch

    factors = torch.tensor(APPROX_RGB, dtype=torch.float32)  # [4, 3]
    x = torch.einsum("lhw,lr->hwr", latents[0].float().cpu(), factors)  # [h, w, 3]
    x = ((x + 1) / 2).clamp(0, 1).mul(255).to(torch.uint8)
    return Image.fromarray(x.numpy())


def preview_image(preview: Any) -> Image.Image | None:
    """A PIL image as it is, SD latents [B, 4, h, w] approximated, anything else None."""
    if isinstance(preview, Image.Image):
        return preview
    if type(preview).__module__.partition(".")[0] != "torch":
        return None  # checked first: while the warm-up imports torch, its half-built module has no Tensor yet
    torch = sys.modules["torch"]
    if isinstance(preview, torch.Tensor) and preview.ndim == 4 and preview.shape[1] == 4:
        return latent_preview(preview)
    return None
