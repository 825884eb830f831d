"""Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes"), A1111's defaults.

Heun steps down the schedule; at sigma ~ 0.1 the sample is pushed back up to sigma ~ 2 with fresh noise and the
interval is solved again (once from 20 steps, twice from 36), the step budget shared with the main schedule.
"""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from modules.sampling.sampler_utils import default_noise_sampler, to_d
from modules.sampling.schedules import get_sigmas_karras


def restart_plan(sigmas: torch.Tensor, restart_list: dict | None):
    """(main sigmas, [(sigma, sigma_next), ...] including the restart segments).

    restart_list: {sigma_at: [restart_steps, restart_times, sigma_restart_max]}; None picks A1111's automatic
    plan, which rebuilds the main schedule (Karras) so the total stays at len(sigmas) - 1 steps.
    """
    steps = sigmas.shape[0] - 1
    if restart_list is None:
        restart_list = {}
        if steps >= 20:
            restart_steps, restart_times = (steps // 4, 2) if steps >= 36 else (9, 1)
            sigmas = get_sigmas_karras(steps - restart_steps * restart_times, sigmas[-2].item(), sigmas[0].item(),
                                       device=sigmas.device)
            restart_list = {0.1: [restart_steps + 1, restart_times, 2]}
    at_index = {int(torch.argmin(abs(sigmas - key), dim=0)): value for key, value in restart_list.items()}
    step_list = []
    for i in range(len(sigmas) - 1):
        step_list.append((sigmas[i], sigmas[i + 1]))
        if i + 1 in at_index:
            restart_steps, restart_times, restart_max = at_index[i + 1]
            min_idx, max_idx = i + 1, int(torch.argmin(abs(sigmas - restart_max), dim=0))
            if max_idx < min_idx:
                sigma_restart = get_sigmas_karras(restart_steps, sigmas[min_idx].item(), sigmas[max_idx].item(),
                                                  device=sigmas.device)[:-1]
                step_list.extend(list(zip(sigma_restart[:-1], sigma_restart[1:])) * restart_times)
    return sigmas, step_list


@torch.no_grad()
def sample_restart(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1., noise_sampler=None,
                   restart_list=None):
    """Restart sampler (Xu et al. 2023 Alg. 1) with Heun steps (Karras et al. 2022 Alg. 2)."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    _, step_list = restart_plan(sigmas, restart_list)
    last_sigma = None
    for step_id, (old_sigma, new_sigma) in enumerate(tqdm(step_list, disable=disable)):
        if last_sigma is None:
            last_sigma = old_sigma
        elif last_sigma < old_sigma:  # restart: back up the noise level with fresh noise
            x = x + noise_sampler(last_sigma, old_sigma) * s_noise * (old_sigma ** 2 - last_sigma ** 2) ** 0.5
        denoised = model(x, old_sigma * s_in, **extra_args)
        d = to_d(x, old_sigma, denoised)
        if callback is not None:
            callback({'x': x, 'i': step_id, 'sigma': new_sigma, 'sigma_hat': old_sigma, 'denoised': denoised})
        dt = new_sigma - old_sigma
        if new_sigma == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = to_d(x_2, new_sigma, model(x_2, new_sigma * s_in, **extra_args))
            x = x + (d + d_2) / 2 * dt
        last_sigma = new_sigma
    return x
