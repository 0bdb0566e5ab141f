# SPDX-License-Identifier: LGPL-3.0-or-later
"""The standard normal CDF, its logarithm and the exponentially modified Gaussian CDF, from the C
library's ``erf``/``erfc`` (Python's :mod:`math`) instead of :mod:`scipy.special`, whose first
import costs a quarter of a second: the gate law of every cycle model needs them.

They follow the same formulas as scipy's ``ndtr`` and ``log_ndtr`` (the same branches, so only
the last bits of ``erf``/``erfc`` differ: ``tests/physics/test_normal.py`` holds them to scipy
within a few ulp, and far in the tails within scipy's own error, whose exp(−x²) loses x²·eps). The
arrays are small (a gate's two edges against a pulse's 256 emission bins): an element-wise loop is
cheap enough.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erfcx", "exgauss_cdf", "log_ndtr", "ndtr"]

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_SPLIT = 134217729.0  # 2**27 + 1: Dekker's splitter of a double into two 26-bit halves
_ASYMPTOTIC = 26.0  # erfcx by its asymptotic series from here (erfc underflows soon after)


def _ndtr(a: float) -> float:
    x = a * _SQRT1_2
    z = abs(x)
    if z < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if x > 0 else y


def erfcx(y: float) -> float:
    """Scaled complementary error function exp(y²)·erfc(y) for y ≥ 0 (a few ulp)."""
    if y < _ASYMPTOTIC:
        hi = y * y  # y² = hi + lo exactly (Dekker's product), so exp(y²) keeps its last bits
        c = _SPLIT * y
        yh = c - (c - y)
        yl = y - yh
        lo = ((yh * yh - hi) + 2.0 * yh * yl) + yl * yl
        return math.exp(hi) * (1.0 + lo) * math.erfc(y)
    if math.isinf(y):
        return 0.0
    # 1/(y√π)·Σ (−1)ⁿ(2n−1)!!/(2y²)ⁿ: at y ≥ 26 the 8th term is below 2e-17 of the first
    r = 0.5 / (y * y)
    term, s = 1.0, 1.0
    for n in range(1, 9):
        term *= -(2 * n - 1) * r
        s += term
    return _INV_SQRT_PI / y * s


def _log_ndtr(a: float) -> float:
    t = a * _SQRT1_2
    if a < -1.0:
        e = erfcx(-t)
        return math.log(e / 2) - t * t if e > 0 else -math.inf
    return math.log1p(-math.erfc(t) / 2)


def _elementwise(f, x: np.ndarray | float) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    out = np.fromiter(
        (f(v) if v == v else math.nan for v in a.ravel().tolist()), float, count=a.size
    )
    return out.reshape(a.shape)


def ndtr(x: np.ndarray | float) -> np.ndarray:
    """Standard normal CDF Φ(x), element-wise (scipy's ``ndtr``)."""
    return _elementwise(_ndtr, x)


def log_ndtr(x: np.ndarray | float) -> np.ndarray:
    """log Φ(x), element-wise, accurate far into the lower tail (scipy's ``log_ndtr``)."""
    return _elementwise(_log_ndtr, x)


def exgauss_cdf(x: np.ndarray, sigma: float, tau: float) -> np.ndarray:
    """CDF of Exp(τ) + N(0, σ²) at x (x, σ, τ in the same unit; σ = 0: the exponential's)."""
    x = np.asarray(x, dtype=float)
    if sigma <= 0:
        return np.where(x > 0, -np.expm1(-np.maximum(x, 0) / tau), 0.0)
    lam = 1.0 / tau
    u = x / sigma
    with np.errstate(over="ignore"):
        tail = np.exp(-lam * x + 0.5 * (lam * sigma) ** 2 + log_ndtr(u - lam * sigma))
    return np.clip(ndtr(u) - tail, 0.0, 1.0)
