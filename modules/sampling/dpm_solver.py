"""DPM-Solver fast (fixed steps) and adaptive (Lu et al. 2022, arXiv:2206.00927), in k-diffusion's form.

Time is t = -log(sigma); eps = (x - D(x, sigma)) / sigma. Both samplers only use the ends of the schedule they are
given: from sigmas[0] down to its smallest non-zero sigma, with len(sigmas) - 1 model calls for "fast".
"""
from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from modules.sampling.sampler_utils import default_noise_sampler, get_ancestral_step


class PIDStepSizeController:
    """PID control of the step size from the local error estimate (Söderlind 2003), as k-diffusion."""

    def __init__(self, h, pcoeff, icoeff, dcoeff, order=1, accept_safety=0.81, eps=1e-8):
        self.h = h
        self.b1 = (pcoeff + icoeff + dcoeff) / order
        self.b2 = -(pcoeff + 2 * dcoeff) / order
        self.b3 = dcoeff / order
        self.accept_safety = accept_safety
        self.eps = eps
        self.errs: list[float] = []

    def propose_step(self, error) -> bool:
        inv_error = 1 / (float(error) + self.eps)
        if not self.errs:
            self.errs = [inv_error, inv_error, inv_error]
        self.errs[0] = inv_error
        factor = self.errs[0] ** self.b1 * self.errs[1] ** self.b2 * self.errs[2] ** self.b3
        factor = 1 + math.atan(factor - 1)
        accept = factor >= self.accept_safety
        if accept:
            self.errs[2], self.errs[1] = self.errs[1], self.errs[0]
        self.h *= factor
        return accept


class DPMSolver:
    """Singlestep DPM-Solver-1/2/3 updates in eps form, with a per-step cache of model evaluations."""

    def __init__(self, model, extra_args=None, eps_callback=None, info_callback=None):
        self.model = model
        self.extra_args = {} if extra_args is None else extra_args
        self.eps_callback = eps_callback
        self.info_callback = info_callback

    def t(self, sigma):
        return -sigma.log()

    def sigma(self, t):
        return t.neg().exp()

    def eps(self, eps_cache, key, x, t):
        if key in eps_cache:
            return eps_cache[key], eps_cache
        sigma = self.sigma(t) * x.new_ones([x.shape[0]])
        eps = (x - self.model(x, sigma, **self.extra_args)) / self.sigma(t)
        if self.eps_callback is not None:
            self.eps_callback()
        return eps, {key: eps, **eps_cache}

    def dpm_solver_1_step(self, x, t, t_next, eps_cache=None):
        """DPM-Solver-1 (= DDIM): x - sigma_next expm1(h) eps."""
        eps, eps_cache = self.eps(eps_cache or {}, 'eps', x, t)
        return x - self.sigma(t_next) * (t_next - t).expm1() * eps, eps_cache

    def dpm_solver_2_step(self, x, t, t_next, r1=1 / 2, eps_cache=None):
        """DPM-Solver-2 (Lu et al. 2022 Alg. 1)."""
        h = t_next - t
        eps, eps_cache = self.eps(eps_cache or {}, 'eps', x, t)
        s1 = t + r1 * h
        u1 = x - self.sigma(s1) * (r1 * h).expm1() * eps
        eps_r1, eps_cache = self.eps(eps_cache, 'eps_r1', u1, s1)
        x_2 = x - self.sigma(t_next) * h.expm1() * eps - self.sigma(t_next) / (2 * r1) * h.expm1() * (eps_r1 - eps)
        return x_2, eps_cache

    def dpm_solver_3_step(self, x, t, t_next, r1=1 / 3, r2=2 / 3, eps_cache=None):
        """DPM-Solver-3 (Lu et al. 2022 Alg. 2)."""
        h = t_next - t
        eps, eps_cache = self.eps(eps_cache or {}, 'eps', x, t)
        s1, s2 = t + r1 * h, t + r2 * h
        u1 = x - self.sigma(s1) * (r1 * h).expm1() * eps
        eps_r1, eps_cache = self.eps(eps_cache, 'eps_r1', u1, s1)
        u2 = x - self.sigma(s2) * (r2 * h).expm1() * eps \
            - self.sigma(s2) * (r2 / r1) * ((r2 * h).expm1() / (r2 * h) - 1) * (eps_r1 - eps)
        eps_r2, eps_cache = self.eps(eps_cache, 'eps_r2', u2, s2)
        x_3 = x - self.sigma(t_next) * h.expm1() * eps - self.sigma(t_next) / r2 * (h.expm1() / h - 1) * (eps_r2 - eps)
        return x_3, eps_cache

    def ancestral(self, t, t_next, t_end, eta):
        """Where the deterministic part of a step ends and how much noise follows it."""
        if not eta:
            return t_next, 0.
        sd, _ = get_ancestral_step(self.sigma(t), self.sigma(t_next), eta)
        t_next_ = torch.minimum(t_end, self.t(sd))
        return t_next_, (self.sigma(t_next) ** 2 - self.sigma(t_next_) ** 2) ** 0.5

    def dpm_solver_fast(self, x, t_start, t_end, nfe, eta=0., s_noise=1., noise_sampler=None):
        """Lu et al. (2022) sec. 3.4: steps of order 3 spending nfe model calls, uniform in t."""
        noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
        m = math.floor(nfe / 3) + 1
        ts = torch.linspace(t_start, t_end, m + 1, device=x.device)
        orders = [3] * (m - 2) + [2, 1] if nfe % 3 == 0 else [3] * (m - 1) + [nfe % 3]
        steps = {1: self.dpm_solver_1_step, 2: self.dpm_solver_2_step, 3: self.dpm_solver_3_step}
        for i, order in enumerate(orders):
            eps_cache = {}
            t, t_next = ts[i], ts[i + 1]
            t_next_, su = self.ancestral(t, t_next, t_end, eta)
            eps, eps_cache = self.eps(eps_cache, 'eps', x, t)
            if self.info_callback is not None:
                self.info_callback({'x': x, 'i': i, 't': ts[i], 't_up': t, 'denoised': x - self.sigma(t) * eps})
            x, eps_cache = steps[order](x, t, t_next_, eps_cache=eps_cache)
            x = x + su * s_noise * noise_sampler(self.sigma(t), self.sigma(t_next))
        return x

    def dpm_solver_adaptive(self, x, t_start, t_end, order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.,
                            icoeff=1., dcoeff=0., accept_safety=0.81, eta=0., s_noise=1., noise_sampler=None):
        """Lu et al. (2022) sec. 3.5: embedded order (2, 3) pairs, step size by PID control of their gap."""
        noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
        if order not in {2, 3}:
            raise ValueError('order should be 2 or 3')
        atol, rtol = torch.tensor(atol), torch.tensor(rtol)
        s, x_prev = t_start, x
        pid = PIDStepSizeController(abs(h_init), pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
        info = {'steps': 0, 'nfe': 0, 'n_accept': 0, 'n_reject': 0}
        while s < t_end - 1e-5:
            eps_cache = {}
            t = torch.minimum(t_end, s + pid.h)
            t_, su = self.ancestral(s, t, t_end, eta)
            eps, eps_cache = self.eps(eps_cache, 'eps', x, s)
            denoised = x - self.sigma(s) * eps
            if order == 2:
                x_low, eps_cache = self.dpm_solver_1_step(x, s, t_, eps_cache=eps_cache)
                x_high, eps_cache = self.dpm_solver_2_step(x, s, t_, eps_cache=eps_cache)
            else:
                x_low, eps_cache = self.dpm_solver_2_step(x, s, t_, r1=1 / 3, eps_cache=eps_cache)
                x_high, eps_cache = self.dpm_solver_3_step(x, s, t_, eps_cache=eps_cache)
            delta = torch.maximum(atol, rtol * torch.maximum(x_low.abs(), x_prev.abs()))
            error = torch.linalg.norm((x_low - x_high) / delta) / x.numel() ** 0.5
            if pid.propose_step(error):
                x_prev = x_low
                x = x_high + su * s_noise * noise_sampler(self.sigma(s), self.sigma(t))
                s = t
                info['n_accept'] += 1
            else:
                info['n_reject'] += 1
            info['nfe'] += order
            info['steps'] += 1
            if self.info_callback is not None:
                self.info_callback({'x': x, 'i': info['steps'] - 1, 't': s, 't_up': s, 'denoised': denoised,
                                    'error': error, 'h': pid.h, **info})
        return x, info


def _ends(sigmas):
    """(smallest non-zero sigma, largest sigma) of a schedule, as 0-dim tensors."""
    positive = sigmas[sigmas > 0]
    return positive.min(), sigmas.max()


def _reporting(solver: DPMSolver, callback) -> None:
    if callback is not None:
        solver.info_callback = lambda info: callback(
            {'sigma': solver.sigma(info['t']), 'sigma_hat': solver.sigma(info['t_up']), **info})


@torch.no_grad()
def sample_dpm_fast(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=0., s_noise=1.,
                    noise_sampler=None):
    """DPM-Solver-Fast with len(sigmas) - 1 model calls between the schedule's ends (Lu et al. 2022 sec. 3.4)."""
    sigma_min, sigma_max = _ends(sigmas)
    n = len(sigmas) - 1
    with tqdm(total=n, disable=disable) as pbar:
        solver = DPMSolver(model, extra_args, eps_callback=pbar.update)
        _reporting(solver, callback)
        t_start, t_end = solver.t(sigma_max.float().cpu()), solver.t(sigma_min.float().cpu())
        return solver.dpm_solver_fast(x, t_start, t_end, n, eta, s_noise, noise_sampler)


@torch.no_grad()
def sample_dpm_adaptive(model, x, sigmas, extra_args=None, callback=None, disable=None, order=3, rtol=0.05,
                        atol=0.0078, h_init=0.05, pcoeff=0., icoeff=1., dcoeff=0., accept_safety=0.81, eta=0.,
                        s_noise=1., noise_sampler=None):
    """DPM-Solver-12/23 with adaptive step size between the schedule's ends (Lu et al. 2022 sec. 3.5)."""
    sigma_min, sigma_max = _ends(sigmas)
    with tqdm(disable=disable) as pbar:
        solver = DPMSolver(model, extra_args, eps_callback=pbar.update)
        _reporting(solver, callback)
        t_start, t_end = solver.t(sigma_max.float().cpu()), solver.t(sigma_min.float().cpu())
        x, _ = solver.dpm_solver_adaptive(x, t_start, t_end, order, rtol, atol, h_init, pcoeff, icoeff, dcoeff,
                                          accept_safety, eta, s_noise, noise_sampler)
    return x
