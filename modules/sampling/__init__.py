"""Sampling: from noise and conditioning to a latent, with A1111's samplers, schedules and seeds.

- `denoiser`: `DiscreteDenoiser` (eps / v model on the DDPM schedule -> Karras D(x, sigma)); `lcm.LCMDenoiser`.
- `cfg`: `CFGDenoiser` (one batched cond + uncond call, composable weights, prompt schedules); `cfg_hooks` its
  per-step hook points (torch-free).
- `noise`: `ImageRNG` (per-image seeded noise, variation seed, resize-from, ENSD), `BrownianTreeNoise`, `fix_seed`.
- `schedules`: sigma schedules as pure functions; `beta_dist` their Beta quantiles without scipy.
- `samplers`: every `sample_*` loop (families in karras, dpmpp, dpm_solver, restart, timestep, unipc, lcm).
- `tables` (data), `specs` (row types), `registry` (`SamplerRegistry`: names, `build_sigmas`, noise per run),
  `params` (eta / sigma churn validation and infotext).
"""
