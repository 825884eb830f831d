"""A1111's `modules.sd_vae_approx`: the cheap linear latent → RGB preview (Easel's factors,
modules/imaging/preview.py), without a VAE."""
from __future__ import annotations


def cheap_approximation(sample):
    """Latents [..., 4, h, w] → RGB [..., 3, h, w], roughly in -1..1."""
    import torch

    from modules.imaging.preview import APPROX_RGB

    factors = torch.tensor(APPROX_RGB, dtype=sample.dtype, device=sample.device)  # [4, 3]
    return torch.einsum("...lxy,lr->...rxy", sample, factors)  # [..., 3, h, w]
