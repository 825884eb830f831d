"""`k_diffusion.utils` as A1111 extensions import it: the tensor helpers of k-diffusion's samplers (Easel's own,
modules/sampling/denoiser.py)."""
from __future__ import annotations

from modules.sampling.denoiser import append_dims, append_zero

__all__ = ["append_dims", "append_zero"]
