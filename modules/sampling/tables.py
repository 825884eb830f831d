"""The built-in samplers and schedulers, as data (names, labels and aliases as A1111 1.10 spells them)."""
from __future__ import annotations

from modules.sampling import samplers as smp
from modules.sampling import schedules as sch
from modules.sampling.specs import SamplerSpec, SchedulerSpec

NOISE = ("s_noise", "noise_sampler")
CHURN = ("s_churn", "s_tmin", "s_tmax", "s_noise", "noise_sampler")
ANCESTRAL = ("eta",) + NOISE

SAMPLERS: tuple[SamplerSpec, ...] = (
    SamplerSpec("DPM++ 2M", smp.sample_dpmpp_2m, ("k_dpmpp_2m",), "karras"),
    SamplerSpec("Euler a", smp.sample_euler_ancestral, ("k_euler_a", "k_euler_ancestral"), None,
                {"uses_ensd": True}, params=ANCESTRAL),
    SamplerSpec("Euler", smp.sample_euler, ("k_euler",), None, params=CHURN),
)

SCHEDULERS: tuple[SchedulerSpec, ...] = (
    SchedulerSpec("automatic", "Automatic", None),
    SchedulerSpec("uniform", "Uniform", sch.uniform, need_inner_model=True),
    SchedulerSpec("karras", "Karras", sch.get_sigmas_karras, default_rho=7.0),
    SchedulerSpec("exponential", "Exponential", sch.get_sigmas_exponential),
    SchedulerSpec("polyexponential", "Polyexponential", sch.get_sigmas_polyexponential, default_rho=1.0),
    SchedulerSpec("sgm_uniform", "SGM Uniform", sch.sgm_uniform, ("SGMUniform",), need_inner_model=True),
    SchedulerSpec("kl_optimal", "KL Optimal", sch.kl_optimal),
    SchedulerSpec("align_your_steps", "Align Your Steps", sch.align_your_steps,
                  from_settings={"is_sdxl": ("is_sdxl", None)}),
    SchedulerSpec("simple", "Simple", sch.simple, need_inner_model=True),
    SchedulerSpec("normal", "Normal", sch.normal, need_inner_model=True),
    SchedulerSpec("ddim", "DDIM", sch.ddim_uniform, need_inner_model=True),
    SchedulerSpec("beta", "Beta", sch.beta_schedule, need_inner_model=True,
                  from_settings={"alpha": ("beta_dist_alpha", "Beta schedule alpha"),
                                 "beta": ("beta_dist_beta", "Beta schedule beta")}),
)
