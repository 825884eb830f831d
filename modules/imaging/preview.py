"""Live previews: what a Job holds as preview (a PIL image or latents) → an image, with no VAE call.

Latents use A1111's "Approx cheap" linear map from SD1 latent channels to RGB
(`sd_samplers_common.latent_to_preview_approx`), or a TAESD decoder file when the "Live preview method" asks for
one and it is there (docs/previews.md); shared by the UI and the API's /progress. torch is imported only
to approximate latents, which exist only once torch is loaded: the page and the API are built
without it (docs/architecture.md §4).
"""
from __future__ import annotations

import sys
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import torch

TAESD_METHODS = ("TAESD", "Approx NN")  # Easel has no Approx NN network: the TAESD file stands in for it
APPROX_RGB = ((0.298, 0.207, 0.208), (0.187, 0.286, 0.173), (-0.158, 0.189, 0.264), (-0.184, -0.271, -0.473))


def latent_preview(latents: torch.Tensor) -> Image.Image:
    """A cheap RGB approximation of the first latent of a batch, [B, 4, h, w] → PIL (h × w)."""
    import torch

    factors = torch.tensor(APPROX_RGB, dtype=torch.float32)  # [4, 3]
    x = torch.einsum("lhw,lr->hwr", latents[0].float().cpu(), factors)  # [h, w, 3]
    x = ((x + 1) / 2).clamp(0, 1).mul(255).to(torch.uint8)
    return Image.fromarray(x.numpy())


def preview_method(requested: str, taesd_file: Path | None) -> str:
    """The method actually used: "TAESD" when asked (or "Approx NN") and the file exists, else "Approx cheap".

    "Full" also gives "Approx cheap": a full VAE decode per preview would stall sampling on the CPU.
    >>> preview_method("TAESD", None), preview_method("Full", Path(__file__))
    ('Approx cheap', 'Approx cheap')
    >>> preview_method("Approx NN", Path(__file__))
    'TAESD'
    """
    if requested in TAESD_METHODS and taesd_file is not None and taesd_file.is_file():
        return "TAESD"
    return "Approx cheap"


class LatentPreviewer:
    """Latents → preview with one TAESD file, loaded on first use; a bad file is reported once, then "Approx cheap".

    One per (model, setting) pair, held by whoever starts the job; the decoder stays cached on the instance.
    """

    def __init__(self, requested: str, taesd_file: Path | None, log: Callable[[str], None] = print):
        self.method = preview_method(requested, taesd_file)
        self.taesd_file, self.log, self.decoder = taesd_file, log, None

    def __call__(self, latents: torch.Tensor) -> Image.Image:
        if self.method == "TAESD" and self.decoder is None:
            self.decoder = self._load()
        if self.decoder is None:
            return latent_preview(latents)
        from modules.models.taesd import decode

        x = decode(self.decoder, latents[:1])[0]  # [3, H, W] in [0, 1]
        return Image.fromarray(x.mul(255).round().byte().permute(1, 2, 0).cpu().numpy())

    def _load(self):
        from modules.errors import ModelLoadError
        from modules.models.taesd import load_decoder

        try:
            return load_decoder(self.taesd_file)
        except ModelLoadError as e:
            self.log(f"Live preview: {e}; using Approx cheap instead")
            self.method = "Approx cheap"
            return None


def previewer_for(requested: str, models_dir: Path, family: str, checkpoint: str,
                  log: Callable[[str], None] = print) -> LatentPreviewer:
    """The previewer for a model: its TAESD file under models/VAE-taesd/ (docs/previews.md) when asked for."""
    from modules.models.taesd import decoder_path

    return LatentPreviewer(requested, decoder_path(models_dir, family, checkpoint), log)


def preview_image(preview: Any, previewer: Callable[[Any], Image.Image] | None = None) -> Image.Image | None:
    """A PIL image as it is, latents [B, C, h, w] through `previewer` (4-channel SD latents: Approx cheap without
    one), anything else None."""
    if isinstance(preview, Image.Image):
        return preview
    if type(preview).__module__.partition(".")[0] != "torch":
        return None  # checked first: while the warm-up imports torch, its half-built module has no Tensor yet
    torch = sys.modules["torch"]
    if not (isinstance(preview, torch.Tensor) and preview.ndim == 4):
        return None
    if previewer is not None:
        return previewer(preview)
    if preview.shape[1] == 4:
        return latent_preview(preview)
    return None
