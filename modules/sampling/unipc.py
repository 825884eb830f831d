"""UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework", arXiv:2302.04867), multistep,
data prediction, in sigma space.

With lambda = -log(sigma) and h = lambda_next - lambda, the predictor UniP-p is
x_next = (sigma_next / sigma) x - expm1(-h) D_0 - B(h) sum_k rho_k D1_k, and the corrector UniC re-solves the same
step once the model has been evaluated at the new point (no extra model call). B(h) = -h (bh1) or expm1(-h) (bh2).
"""
from __future__ import annotations

import math

import torch
from tqdm.auto import trange

from modules.errors import InvalidInput

VARIANTS = ("bh1", "bh2")


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the tiny (order <= 3) UniPC systems."""
    n = len(b)
    m = [row[:] + [rhs] for row, rhs in zip(a, b)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            m[r] = [v - f * p for v, p in zip(m[r], m[col])]
    out = [0.0] * n
    for r in reversed(range(n)):
        out[r] = (m[r][n] - sum(m[r][c] * out[c] for c in range(r + 1, n))) / m[r][r]
    return out


def _coefficients(rks: list[float], h: float, order: int, variant: str):
    """(R [order][order], b [order], h*phi_1, B(h)) of the UniPC linear system (paper Alg. 2 / 3)."""
    hh = -h
    h_phi_1 = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    b_h = hh if variant == "bh1" else math.expm1(hh)
    factorial_i, rows, b = 1, [], []
    ks = rks + [1.0]
    for i in range(1, order + 1):
        rows.append([k ** (i - 1) for k in ks])
        b.append(h_phi_k * factorial_i / b_h)
        factorial_i *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial_i
    return rows, b, h_phi_1, b_h


def _differences(history, lambdas, lam0, h, order):
    """rk and D1_k = (D_{-k} - D_0) / rk for the k previous points used at this order."""
    rks, d1s = [], []
    for k in range(1, order):
        rk = (lambdas[-(k + 1)] - lam0) / h
        rks.append(rk)
        d1s.append((history[-(k + 1)] - history[-1]) / rk)
    return rks, d1s


def _weighted(rhos: list[float], d1s: list):
    out = d1s[0] * rhos[0]
    for rho, d1 in zip(rhos[1:], d1s[1:]):
        out = out + rho * d1
    return out


def unipc_predict(x, history, lambdas, sigma, sigma_next, order, variant):
    """UniP-p: the predictor step from sigma to sigma_next with the last `order` denoised estimates."""
    lam0, lam_t = lambdas[-1], -math.log(sigma_next)
    h = lam_t - lam0
    rks, d1s = _differences(history, lambdas, lam0, h, order)
    r, b, h_phi_1, b_h = _coefficients(rks, h, order, variant)
    x_t = sigma_next / sigma * x - h_phi_1 * history[-1]
    if d1s:
        rhos = [0.5] if order == 2 else _solve([row[:-1] for row in r[:-1]], b[:-1])
        x_t = x_t - b_h * _weighted(rhos, d1s)
    return x_t


def unipc_correct(x_prev, model_t, history, lambdas, sigma_prev, sigma, order, variant):
    """UniC-p: re-solve the last step from x_prev using the model output `model_t` at the predicted point."""
    lam0, lam_t = lambdas[-1], -math.log(sigma)
    h = lam_t - lam0
    rks, d1s = _differences(history, lambdas, lam0, h, order)
    r, b, h_phi_1, b_h = _coefficients(rks, h, order, variant)
    rhos = [0.5] if order == 1 else _solve(r, b)
    x_c = sigma / sigma_prev * x_prev - h_phi_1 * history[-1]
    corr = rhos[-1] * (model_t - history[-1])
    if d1s:
        corr = corr + _weighted(rhos[:-1], d1s)
    return x_c - b_h * corr


def _step_order(i: int, n: int, order: int, lower_order_final: bool) -> int:
    """The order of step i of n: i + 1 while warming up, then `order`, capped by the steps left if asked.

    >>> [_step_order(i, 6, 3, True) for i in range(6)], [_step_order(i, 4, 4, True) for i in range(4)]
    ([1, 2, 3, 3, 2, 1], [1, 2, 3, 1])
    """
    if i + 1 < order:
        return i + 1
    return min(order, n - i) if lower_order_final else order


@torch.no_grad()
def sample_unipc(model, x, sigmas, extra_args=None, callback=None, disable=None, order=3, variant="bh1",
                 lower_order_final=True):
    """UniPC multistep (Zhao et al. 2023): UniP-p then UniC-p each step, warming up from first order.

    Defaults are A1111's settings' (bh1, order 3, lower order at the end). As in the authors' library A1111 runs,
    step i < order uses order i + 1 (the warm-up) and later steps `order`, or fewer near the end with
    `lower_order_final`; a step to sigma = 0 returns the denoised x0. A pass with fewer steps than `order` (a
    short img2img or hires pass) runs at order = its steps: A1111's library stops there with an assertion, so no
    A1111 picture exists to differ from, and its X/Y/Z axis caps the order the same way.
    """
    if variant not in VARIANTS:
        raise InvalidInput("uni_pc_variant", f"unknown UniPC variant {variant!r}", ", ".join(VARIANTS))
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    sig = [float(s) for s in sigmas]
    n = len(sig) - 1
    if order < 1:
        raise InvalidInput("uni_pc_order", f"{order!r} is not an order", "a whole number from 1 to 50")
    order = min(order, n)
    history, lambdas, x_prev, prev_order = [], [], None, 1
    for i in trange(n, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if x_prev is not None:
            x = unipc_correct(x_prev, denoised, history, lambdas, sig[i - 1], sig[i], prev_order, variant)
        history, lambdas = (history + [denoised])[-order:], (lambdas + [-math.log(sig[i])])[-order:]
        this_order = _step_order(i, n, order, lower_order_final)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        x_prev, prev_order = x, this_order
        last = sig[i + 1] == 0
        x = denoised if last else unipc_predict(x, history, lambdas, sig[i], sig[i + 1], this_order, variant)
    return x
