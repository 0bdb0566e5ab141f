# SPDX-License-Identifier: LGPL-3.0-or-later
"""sim.physics.normal (the gate law's normal-law functions from math.erf/erfc) against
scipy.special over the whole range, tails included.

Tolerances: both follow the same formulas, so they differ only where the erf/erfc
implementations do: C library (≤ 1 ulp) against Cephes, whose exp(−z²) loses z²·eps far in a
tail. Hence ndtr and log_ndtr within 8·eps·(1 + x²/2) relative (measured: 3.8·eps·(1 + x²/2),
and ≤ 2.3 eps for log_ndtr's lower tail); erfcx within 8 eps; values below the smallest normal
double (where one library returns a subnormal and the other 0) only absolutely, 1e-300."""

import math

import numpy as np
import pytest
from scipy import special

from sim.physics.normal import erfcx, exgauss_cdf, log_ndtr, ndtr

EPS = np.finfo(float).eps


def _assert_close(ours, ref, x, rtol_of_x):
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref)
    with np.errstate(invalid="ignore"):  # inf − inf where both are ±inf
        d = np.where(ours[ok] == ref[ok], 0.0, np.abs(ours[ok] - ref[ok]))
    tol = np.maximum(rtol_of_x(x[ok]) * np.abs(ref[ok]), 1e-300)
    assert (d <= tol).all(), (x[ok][d > tol][:5], ours[ok][d > tol][:5], ref[ok][d > tol][:5])


X = np.concatenate(
    [
        np.linspace(-40.0, 40.0, 80001),
        -np.logspace(-3, 6, 901),
        np.logspace(-3, 6, 901),
        [0.0, -0.0, -1.0, 1.0, -37.5, -1e300, 1e300, np.inf, -np.inf, np.nan],
    ]
)


def _tail(x):
    return 8 * EPS * (1 + np.minimum(np.abs(x), 1e150) ** 2 / 2)


def test_ndtr_matches_scipy():
    _assert_close(ndtr(X), special.ndtr(X), X, _tail)
    assert ndtr(0.0) == 0.5 and ndtr(np.inf) == 1.0 and ndtr(-np.inf) == 0.0


def test_log_ndtr_matches_scipy_far_into_the_lower_tail():
    _assert_close(log_ndtr(X), special.log_ndtr(X), X, _tail)
    u = np.array([-40.0, -1e3, -1e5])
    _assert_close(log_ndtr(u), special.log_ndtr(u), u, lambda x: 4 * EPS + 0 * x)
    assert log_ndtr(-np.inf) == -np.inf and log_ndtr(np.inf) == 0.0
    # the branch point (−1) and the switch to the asymptotic series (u = −26·√2) join smoothly
    for u0 in (-1.0, -26 * math.sqrt(2)):
        v = np.array([np.nextafter(u0, -np.inf), u0, np.nextafter(u0, np.inf)])
        _assert_close(log_ndtr(v), special.log_ndtr(v), v, lambda x: 4 * EPS + 0 * x)


def test_erfcx_matches_scipy():
    y = np.concatenate([np.linspace(0.0, 60.0, 60001), np.logspace(-8, 300, 3081)])
    ours = np.array([erfcx(float(v)) for v in y])
    _assert_close(ours, special.erfcx(y), y, lambda x: 8 * EPS + 0 * x)


def _scipy_exgauss(x, sigma, tau):
    lam, u = 1 / tau, x / sigma
    with np.errstate(over="ignore"):
        tail = np.exp(-lam * x + 0.5 * (lam * sigma) ** 2 + special.log_ndtr(u - lam * sigma))
    return np.clip(special.ndtr(u) - tail, 0.0, 1.0)


@pytest.mark.parametrize("sigma", [1e-15, 1e-12, 5e-11, 3e-10, 1e-9, 1e-6, 1.0])
@pytest.mark.parametrize("tau", [1e-12, 7e-9, 1e-6, 1.0])
def test_exgauss_cdf_matches_scipy(sigma, tau):
    """Absolute difference of the CDF ≤ 1e-15 where σ ≤ τ (every lab: jitter ≪ lifetime) and
    ≤ 4e-15 up to σ/τ = 5·10⁴ (the formula's own cancellation, in both)."""
    x = np.concatenate(
        [np.linspace(-40 * sigma, 40 * (sigma + tau), 4001), np.linspace(-1e-6, 1e-6, 401)]
    )
    d = np.abs(exgauss_cdf(x, sigma, tau) - _scipy_exgauss(x, sigma, tau))
    assert d.max() <= (1e-15 if sigma <= tau else 4e-15)


def test_exgauss_cdf_without_jitter_is_the_exponential():
    x = np.array([-1.0, 0.0, 1e-9, 7e-9, 1.0])
    assert np.array_equal(
        exgauss_cdf(x, 0.0, 7e-9), np.where(x > 0, -np.expm1(-np.maximum(x, 0) / 7e-9), 0.0)
    )
