"""All sampler functions in one namespace (as `k_diffusion.sampling`); each lives in the file of its family.

Every sampler is `sample_x(model, x, sigmas, extra_args=None, callback=None, disable=None, ...)` as in
k-diffusion: `model(x, sigma [B], **extra_args) -> denoised`, `x` starts at noise * sigmas[0], and `callback`
receives {'x', 'i', 'sigma', 'sigma_hat', 'denoised'} once per step (it may raise `modules.errors.Interrupted`,
which propagates to the caller). Samplers that draw noise take `noise_sampler(sigma, sigma_next) -> noise like x`.
"""
from modules.sampling.dpm_solver import sample_dpm_adaptive, sample_dpm_fast
from modules.sampling.dpmpp import (sample_dpmpp_2m, sample_dpmpp_2m_sde, sample_dpmpp_2s_ancestral,
                                   sample_dpmpp_3m_sde, sample_dpmpp_sde)
from modules.sampling.karras import (sample_dpm_2, sample_dpm_2_ancestral, sample_euler, sample_euler_ancestral,
                                     sample_heun, sample_lms)
from modules.sampling.lcm import sample_lcm
from modules.sampling.restart import sample_restart
from modules.sampling.tcd import sample_tcd
from modules.sampling.timestep import sample_ddim, sample_ddim_cfgpp, sample_plms
from modules.sampling.unipc import sample_unipc

__all__ = [
    "sample_euler", "sample_euler_ancestral", "sample_heun", "sample_dpm_2", "sample_dpm_2_ancestral", "sample_lms",
    "sample_dpmpp_2m", "sample_dpmpp_2s_ancestral", "sample_dpmpp_sde", "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde",
    "sample_dpm_fast", "sample_dpm_adaptive", "sample_restart", "sample_ddim", "sample_ddim_cfgpp", "sample_plms",
    "sample_unipc", "sample_lcm", "sample_tcd",
]
