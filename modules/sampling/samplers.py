"""All sampler functions in one namespace (as `k_diffusion.sampling`); each lives in the file of its family.

Every sampler is `sample_x(model, x, sigmas, extra_args=None, callback=None, disable=None, ...)` as in
k-diffusion: `model(x, sigma [B], **extra_args) -> denoised`, `x` starts at noise * sigmas[0], and `callback`
receives {'x', 'i', 'sigma', 'sigma_hat', 'denoised'} once per step (it may raise `modules.errors.Interrupted`,
which propagates to the caller). Samplers that draw noise take `noise_sampler(sigma, sigma_next) -> noise like x`.
"""
from modules.sampling.dpmpp import sample_dpmpp_2m
from modules.sampling.karras import sample_euler, sample_euler_ancestral

__all__ = ["sample_euler", "sample_euler_ancestral", "sample_dpmpp_2m"]
