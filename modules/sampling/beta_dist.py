"""Quantiles of the Beta distribution without scipy, for the Beta noise schedule (Lee et al. 2024).

The regularized incomplete beta function I_x(a, b) is evaluated by its continued fraction (modified Lentz,
as in Numerical Recipes' `betacf`), and inverted by Newton's method kept inside a bisection bracket.

>>> round(beta_ppf(0.5, 2.0, 2.0), 12)
0.5
>>> round(beta_ppf(0.25, 1.0, 1.0), 12)
0.25
>>> beta_ppf(0.0, 0.6, 0.6), beta_ppf(1.0, 0.6, 0.6)
(0.0, 1.0)
"""
from __future__ import annotations

import math

_TINY = 1e-300


def _continued_fraction(x: float, a: float, b: float) -> float:
    """Continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def beta_cdf(x: float, a: float, b: float) -> float:
    """I_x(a, b), the Beta(a, b) cumulative distribution at x."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(x, a, b) / a
    return 1.0 - front * _continued_fraction(1.0 - x, b, a) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = q (scipy.stats.beta.ppf for a, b > 0)."""
    if q <= 0.0:
        return 0.0
    if q >= 1.0:
        return 1.0
    lo, hi, x = 0.0, 1.0, 0.5
    log_norm = _log_beta(a, b)
    for _ in range(200):
        err = beta_cdf(x, a, b) - q
        if err > 0:
            hi = x
        else:
            lo = x
        pdf = math.exp((a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - log_norm)
        step = x - err / pdf if pdf > 0 else -1.0
        x_new = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(x_new - x) < 1e-15 or hi - lo < 1e-15:
            return x_new
        x = x_new
    return x
