"""The built-in samplers and schedulers, as data (names, labels and aliases as A1111 1.10 spells them).

Rows name their functions (`Deferred`): the sampler code and torch are imported when a row first runs, not when the
page lists the names (docs/architecture.md §4: the page is served before torch loads).
"""
from __future__ import annotations

from modules.lazy import Deferred
from modules.sampling.specs import SamplerSpec, SchedulerSpec


class _Names:
    """`smp.sample_euler` → `Deferred("modules.sampling.samplers", "sample_euler")`: the table reads as before."""

    def __init__(self, module: str):
        self.module = module

    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("_"):
            raise AttributeError(name)
        return Deferred(self.module, name)


smp = _Names("modules.sampling.samplers")
sch = _Names("modules.sampling.schedules")
few = _Names("modules.sampling.few_step_schedules")
LCMDenoiser = Deferred("modules.sampling.lcm", "LCMDenoiser")

# The tunables each sampler takes from the request/settings, as A1111 1.10 passes them (`sampler_extra_params`
# and eta); "noise_sampler" marks samplers that draw noise during sampling.
CHURN = ("s_churn", "s_tmin", "s_tmax", "s_noise", "noise_sampler")
ANCESTRAL = ("eta", "s_noise", "noise_sampler")
ETA_ONLY = ("eta", "noise_sampler")

KARRAS = "karras"
EXP = "exponential"
TIMESTEPS = {"eta_ddim": True, "vp_initial_noise": True}

SAMPLERS: tuple[SamplerSpec, ...] = (
    SamplerSpec("DPM++ 2M", smp.sample_dpmpp_2m, ("k_dpmpp_2m",), KARRAS),
    SamplerSpec("DPM++ SDE", smp.sample_dpmpp_sde, ("k_dpmpp_sde",), KARRAS,
                {"second_order": True, "brownian_noise": True}, params=ANCESTRAL),
    SamplerSpec("DPM++ 2M SDE", smp.sample_dpmpp_2m_sde, ("k_dpmpp_2m_sde",), EXP, {"brownian_noise": True},
                params=ANCESTRAL),
    SamplerSpec("DPM++ 2M SDE Heun", smp.sample_dpmpp_2m_sde, ("k_dpmpp_2m_sde_heun",), EXP,
                {"brownian_noise": True}, {"solver_type": "heun"}, params=ANCESTRAL),
    SamplerSpec("DPM++ 2S a", smp.sample_dpmpp_2s_ancestral, ("k_dpmpp_2s_a",), KARRAS,
                {"uses_ensd": True, "second_order": True}, params=ANCESTRAL),
    SamplerSpec("DPM++ 3M SDE", smp.sample_dpmpp_3m_sde, ("k_dpmpp_3m_sde",), EXP,
                {"discard_next_to_last_sigma": True, "brownian_noise": True}, params=ANCESTRAL),
    SamplerSpec("Euler a", smp.sample_euler_ancestral, ("k_euler_a", "k_euler_ancestral"), None,
                {"uses_ensd": True}, params=ETA_ONLY),
    SamplerSpec("Euler", smp.sample_euler, ("k_euler",), None, params=CHURN),
    SamplerSpec("LMS", smp.sample_lms, ("k_lms",)),
    SamplerSpec("Heun", smp.sample_heun, ("k_heun",), None, {"second_order": True}, params=CHURN),
    SamplerSpec("DPM2", smp.sample_dpm_2, ("k_dpm_2",), KARRAS,
                {"discard_next_to_last_sigma": True, "second_order": True}, params=CHURN),
    SamplerSpec("DPM2 a", smp.sample_dpm_2_ancestral, ("k_dpm_2_a",), KARRAS,
                {"discard_next_to_last_sigma": True, "uses_ensd": True, "second_order": True}, params=ANCESTRAL),
    SamplerSpec("DPM fast", smp.sample_dpm_fast, ("k_dpm_fast",), None, {"uses_ensd": True}, params=ANCESTRAL,
                min_steps=2),
    SamplerSpec("DPM adaptive", smp.sample_dpm_adaptive, ("k_dpm_ad",), None, {"uses_ensd": True},
                params=ETA_ONLY, min_steps=2),
    SamplerSpec("Restart", smp.sample_restart, ("restart",), KARRAS, {"second_order": True},
                params=("noise_sampler",)),
    SamplerSpec("DDIM", smp.sample_ddim, ("ddim",), "ddim", TIMESTEPS, params=ETA_ONLY),
    SamplerSpec("DDIM CFG++", smp.sample_ddim_cfgpp, ("ddim_cfgpp",), "ddim", TIMESTEPS, params=ETA_ONLY),
    SamplerSpec("PLMS", smp.sample_plms, ("plms",), "ddim", {"vp_initial_noise": True}),
    SamplerSpec("UniPC", smp.sample_unipc, ("unipc",), None, {"vp_initial_noise": True}, params=("uni_pc",),
                automatic_sigmas=Deferred("modules.sampling.unipc_schedule", "automatic_unipc_sigmas")),
    SamplerSpec("LCM", smp.sample_lcm, ("k_lcm",), None, params=("noise_sampler",), denoiser=LCMDenoiser),
    SamplerSpec("TCD", smp.sample_tcd, ("tcd",), "lcm", {"vp_initial_noise": True, "eta_default": 0.3},
                params=ETA_ONLY),
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
    SchedulerSpec("lcm", "LCM", few.lcm, need_inner_model=True),
    SchedulerSpec("trailing", "Trailing", few.trailing, need_inner_model=True),
)
