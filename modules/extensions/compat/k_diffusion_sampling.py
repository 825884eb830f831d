"""`k_diffusion.sampling` as A1111 extensions import it: Easel's sampler functions (modules/sampling), which have
k-diffusion's names, signatures and maths, and the schedule and step helpers beside them."""
from __future__ import annotations

from modules.sampling.dpm_solver import sample_dpm_adaptive, sample_dpm_fast
from modules.sampling.dpmpp import (sample_dpmpp_2m, sample_dpmpp_2m_sde, sample_dpmpp_2s_ancestral,
                                    sample_dpmpp_3m_sde, sample_dpmpp_sde)
from modules.sampling.karras import (linear_multistep_coeff, sample_dpm_2, sample_dpm_2_ancestral, sample_euler,
                                     sample_euler_ancestral, sample_heun, sample_lms)
from modules.sampling.sampler_utils import default_noise_sampler, get_ancestral_step, to_d
from modules.sampling.schedules import get_sigmas_exponential, get_sigmas_karras, get_sigmas_polyexponential
from modules.sampling.denoiser import append_dims, append_zero

__all__ = ["sample_dpm_adaptive", "sample_dpm_fast", "sample_dpmpp_2m", "sample_dpmpp_2m_sde",
           "sample_dpmpp_2s_ancestral", "sample_dpmpp_3m_sde", "sample_dpmpp_sde", "linear_multistep_coeff",
           "sample_dpm_2", "sample_dpm_2_ancestral", "sample_euler", "sample_euler_ancestral", "sample_heun",
           "sample_lms", "default_noise_sampler", "get_ancestral_step", "to_d", "get_sigmas_exponential",
           "get_sigmas_karras", "get_sigmas_polyexponential", "append_dims", "append_zero"]


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel's k_diffusion.sampling has no {name}: it offers the k-diffusion samplers Easel "
                         "runs (modules/sampling; docs/a1111-compat.md)")
