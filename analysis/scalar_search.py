# SPDX-License-Identifier: LGPL-3.0-or-later
"""A root and a minimum of a scalar function of one variable, on a bracket.

The lifetime fit and the readout calibration's effective counts need only these two searches.
``scipy.optimize`` holds them, but importing it costs ≈ 0.2–0.4 s (this machine), more than the
whole fidelity report's work on a 10⁸-tag file; these are the same textbook algorithms (Brent's
root finder, a golden-section search), tested against ``scipy.optimize``'s ``brentq`` and
``minimize_scalar(method="bounded")`` in ``tests/analysis/test_scalar_search.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["bracketed_minimum", "bracketed_root"]

_EPS = 2.220446049250313e-16
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0


def bracketed_root(
    f: Callable[[float], float], lo: float, hi: float, *, xtol: float = 2e-12, maxiter: int = 200
) -> float:
    """A root of ``f`` in [lo, hi], where ``f(lo)`` and ``f(hi)`` differ in sign (Brent's method:
    inverse quadratic interpolation and secant steps, bisection where they do not shrink the
    bracket fast enough). The root is within ``xtol`` + 4ε·|x| of the returned value.

    :raises ValueError: if ``f(lo)`` and ``f(hi)`` have the same sign, or are not numbers
    :raises RuntimeError: if ``maxiter`` evaluations do not reach the tolerance
    """
    a, b = float(lo), float(hi)
    fa, fb = float(f(a)), float(f(b))
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if not fa * fb < 0.0:
        raise ValueError(f"f({a:g}) = {fa:g} and f({b:g}) = {fb:g} do not bracket a root")
    c, fc = a, fa
    d = e = b - a
    for _ in range(maxiter):
        if (fb > 0.0) == (fc > 0.0):
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2.0 * _EPS * abs(b) + 0.5 * xtol
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p, q = 2.0 * m * s, 1.0 - s
            else:
                q, r = fa / fc, fb / fc
                p = s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if 2.0 * p < min(3.0 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = m
        else:
            d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else math.copysign(tol, m)
        fb = float(f(b))
    raise RuntimeError(f"no root within {xtol:g} after {maxiter} evaluations")


def bracketed_minimum(
    f: Callable[[float], float], lo: float, hi: float, *, xatol: float = 1e-7
) -> tuple[float, float]:
    """(x, f(x)) at a minimum of ``f`` on [lo, hi] by golden-section search, to within ``xatol``:
    the global one where ``f`` is unimodal on the bracket, otherwise a local one (or an end)."""
    a, b = float(lo), float(hi)
    if not a < b:
        raise ValueError(f"need lo < hi, got {lo:g}, {hi:g}")
    x1, x2 = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    f1, f2 = float(f(x1)), float(f(x2))
    while b - a > xatol:
        if f1 <= f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - _INV_PHI * (b - a)
            f1 = float(f(x1))
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + _INV_PHI * (b - a)
            f2 = float(f(x2))
    return (x1, f1) if f1 <= f2 else (x2, f2)
