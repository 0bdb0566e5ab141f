# SPDX-License-Identifier: LGPL-3.0-or-later
"""Quantiles of the gamma law of integer shape (the exact Poisson interval's), without scipy.

``gamma_quantile(a, p)`` is scipy's ``gammaincinv(a, p)`` for a whole ``a``: the x at which the
regularised lower incomplete gamma P(a, x) equals ``p``. For a whole ``a``, 1 − P(a, x) is the
Poisson CDF at a − 1 of mean x, a finite sum of Poisson probabilities; the live dashboard's rate
interval needs it a few times a second, and importing :mod:`scipy.special` for it would cost a
quarter of a second of every run. ``tests/analysis/test_gamma_quantile.py`` holds it to scipy
within 1e-14 relative.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

__all__ = ["gamma_quantile"]

_EPS = 2.220446049250313e-16
_LN_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@lru_cache(maxsize=256)
def _factorial(j: int) -> float:
    return float(math.factorial(j))


def _stirling_error(n: int) -> float:
    """ln n! − (n + ½) ln n + n − ln √(2π) for n ≥ 16 (the series' next term is < 1e-16)."""
    r = 1.0 / (n * n)
    return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - r / 1188) * r) * r) * r) / n


def _deviance(j: int, x: float) -> float:
    """j ln(j/x) + x − j ≥ 0, without the cancellation near j = x."""
    d = j - x
    if abs(d) < 0.1 * (j + x):
        v = d / (j + x)
        s = d * v
        e = 2.0 * j * v
        v2 = v * v
        k = 1
        while True:
            e *= v2
            s_new = s + e / (2 * k + 1)
            if s_new == s:
                return s
            s = s_new
            k += 1
    return j * math.log(j / x) + x - j


def _poisson_pmf(j: int, x: float) -> float:
    """P(N = j) for N ~ Poisson(x), x > 0, to a few ulp."""
    if j == 0:
        return math.exp(-x)
    if j <= 170 and x < 700.0 and j * math.log(x) < 700.0:
        return x**j * math.exp(-x) / _factorial(j)
    if j < 16:  # x is far out: the value is negligible, its last digits do not matter
        return math.exp(j * math.log(x) - x - math.lgamma(j + 1))
    return math.exp(-_stirling_error(j) - _deviance(j, x) - _LN_SQRT_2PI) / math.sqrt(j)


def _tail_sum(j: int, x: float, up: bool, block: int = 0) -> float:
    """Σ P(N = i) over i ≥ j (``up``, needs x < j) or i ≤ j (needs x > j): the terms fall
    geometrically away from the mode, so the sum stops when what is left is below 1e-17 of it.

    Term by term, t_{i+1} = t_i·r_i with r_i = x/i upwards or i/x downwards, and the running sum
    in the same order; a block of steps at a time as ``np.multiply.accumulate`` and
    ``np.add.accumulate`` (sequential, so every rounding is the one a loop makes). The terms
    fall below 1e-17 of the sum within ~9√x steps (a normal tail at 6σ), the first block's size
    (``block``, if given, for tests).
    """
    t = _poisson_pmf(j, x)
    s = t
    if block <= 0:
        block = 32 + 9 * math.isqrt(int(x if x < 2.0**36 else 2.0**36))  # NaN: the cap
    while t > 0:
        if up:
            r = x / np.arange(j + 1, j + 1 + block, dtype=float)
            j += block
        else:
            m = min(block, j)  # steps left down to i = 0
            if m == 0:
                break
            r = np.arange(j, j - m, -1, dtype=float) / x
            j -= m
        ts = np.multiply.accumulate(np.concatenate(([t], r)))[1:]
        ss = np.add.accumulate(np.concatenate(([s], ts)))[1:]
        # stop after the first step whose term is 0 or whose rest is below t·r/(1 − r) < 1e-17·s
        done = np.flatnonzero(~(ts > 0) | (ts * r < 1e-17 * ss * (1 - r)))
        if done.size:
            return float(ss[done[0]])
        t, s = float(ts[-1]), float(ss[-1])
        block = min(2 * block, 1 << 22)
    return s


def _lower_upper(a: int, x: float) -> tuple[float, float]:
    """P(a, x) and Q(a, x) = 1 − P(a, x), the smaller one summed directly."""
    if x < a:
        p = _tail_sum(a, x, up=True)  # P(a, x) = P(N ≥ a)
        return p, 1.0 - p
    q = _tail_sum(a - 1, x, up=False)  # Q(a, x) = P(N ≤ a − 1)
    return 1.0 - q, q


@lru_cache(maxsize=256)
def gamma_quantile(a: int, p: float) -> float:
    """x with P(a, x) = p for the gamma law of integer shape ``a`` ≥ 1 and scale 1 (0 ≤ p ≤ 1).

    Newton's method on the logarithm of the smaller tail, kept inside a bracket, from the
    Wilson–Hilferty approximation; converged to a few ulp.
    """
    if a < 1 or a != int(a):
        raise ValueError(f"gamma_quantile needs a whole shape >= 1, got {a}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"gamma_quantile needs 0 <= p <= 1, got {p}")
    a = int(a)
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return math.inf
    lower = p <= 0.5  # solve P(a, x) = p, else Q(a, x) = 1 − p: the tail that is small there
    target = p if lower else 1.0 - p
    z = NormalDist().inv_cdf(p)
    x = a * (1 - 1 / (9 * a) + z / (3 * math.sqrt(a))) ** 3
    if not x > 0:
        x = math.exp((math.log(p) + math.lgamma(a + 1)) / a)  # P(a, x) ≈ x^a / a! for small x
    lo, hi = 0.0, math.inf
    for _ in range(200):
        pl, qu = _lower_upper(a, x)
        s = pl if lower else qu
        g = math.log(s / target) if s > 0.0 else math.nan  # (a ratio keeps the last bits)
        if g == 0.0:
            return x
        # P rises with x, Q falls: below the target on P's side (above on Q's) means x is low
        if (g < 0 if lower else g > 0) or (s <= 0.0 and lower):
            lo = x
        else:
            hi = x
        density = _poisson_pmf(a - 1, x)  # dP/dx = −dQ/dx
        step = g * s / density if density > 0.0 else math.nan
        x_new = x - (step if lower else -step)
        if abs(x_new - x) <= 2 * _EPS * x:
            return x_new
        if not lo < x_new < hi:  # outside the bracket (or no step): bisect it
            x_new = 2 * lo + 1 if math.isinf(hi) else 0.5 * (lo + hi)
        x = x_new
    return x
