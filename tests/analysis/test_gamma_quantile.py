# SPDX-License-Identifier: LGPL-3.0-or-later
"""analysis.gamma_quantile (the Garwood interval's gamma quantile without scipy) against
scipy.special.gammaincinv and closed forms, and the interval built on it.

Tolerances: within 1e-14 relative of scipy for shapes 1..10⁵ and p in [1e-12, 1 − 1e-12]
(measured: 3.7e-15). Far in the lower tail (p = 1e-300) scipy's own error reaches ~2e-14, so
there the reference is the closed form of shapes 1 and 2 (4 ulp)."""

import math

import numpy as np
import pytest
from scipy import special

from analysis import gamma_quantile as gq
from analysis.estimate import poisson_rate, z_of_cl
from analysis.gamma_quantile import gamma_quantile

P = [1e-12, 1e-6, 0.005, 0.025, 0.05, 0.16, 0.5, 0.84, 0.95, 0.975, 0.995, 1 - 1e-6, 1 - 1e-12]
SHAPES = list(range(1, 40)) + [99, 170, 171, 172, 200, 1000, 4321, 10**4, 10**5]


@pytest.mark.parametrize("a", SHAPES)
def test_matches_scipy_gammaincinv(a):
    ours = np.array([gamma_quantile(a, p) for p in P])
    np.testing.assert_allclose(ours, special.gammaincinv(a, P), rtol=1e-14, atol=0)


def test_tails_against_closed_forms():
    eps = np.finfo(float).eps
    for p in (1e-300, 1e-100, 1e-20, 0.3, 1 - 1e-9):
        # shape 1: P(1, x) = 1 − e^{−x}
        assert gamma_quantile(1, p) == pytest.approx(-math.log1p(-p), rel=4 * eps)
    for p in (1e-300, 1e-100, 1e-40):
        # shape 2: P(2, x) = x²/2 − x³/3 + …, so x = √(2p)·(1 + √(2p)/3 + …)
        x0 = math.sqrt(2 * p)
        assert gamma_quantile(2, p) == pytest.approx(x0 * (1 + x0 / 3), rel=4 * eps)
    assert gamma_quantile(5, 0.0) == 0.0 and gamma_quantile(5, 1.0) == math.inf


def test_bad_shape_or_probability():
    for a, p in ((0, 0.5), (2.5, 0.5), (3, -0.1), (3, 1.5)):
        with pytest.raises(ValueError):
            gamma_quantile(a, p)
    with pytest.raises(ValueError, match="whole number"):
        poisson_rate(2.5, 1.0)  # type: ignore[arg-type]


def test_garwood_interval_and_normal_quantile_as_with_scipy():
    for k, t, cl in ((0, 2.0, 0.95), (1, 0.5, 0.68), (37, 3.0, 0.99), (12345, 10.0, 0.95)):
        e = poisson_rate(k, t, cl=cl)
        a = 1 - cl
        lo = 0.0 if k == 0 else special.gammaincinv(k, a / 2) / t
        hi = special.gammaincinv(k + 1, 1 - a / 2) / t
        assert e.lo == pytest.approx(lo, rel=1e-14, abs=0) and e.hi == pytest.approx(hi, rel=1e-14)
    for cl in (0.5, 0.6827, 0.9, 0.95, 0.99, 0.999999):
        assert z_of_cl(cl) == pytest.approx(special.ndtri(1 - (1 - cl) / 2), rel=4e-16)


def _tail_sum_loop(j, x, up):
    """The tail sum term by term (the definition _tail_sum evaluates a block at a time)."""
    t = s = gq._poisson_pmf(j, x)
    while t > 0:
        if up:
            j += 1
            r = x / j
        else:
            if j == 0:
                break
            r = j / x
            j -= 1
        t *= r
        s += t
        if t * r < 1e-17 * s * (1 - r):
            break
    return s


@pytest.mark.parametrize("block", [0, 1, 3, 32])
def test_blocked_tail_sum_is_the_loop_to_the_bit(block):
    rng = np.random.default_rng(7)
    shapes = np.concatenate([np.arange(1, 30), rng.integers(30, 3 * 10**6, 25)])
    for a in shapes.tolist():
        for f in (0.2, 0.9, 0.999, 1.001, 1.1, 3.0):
            x = a * f
            up = x < a
            j = a if up else a - 1
            if not up and not x > j:
                continue
            assert gq._tail_sum(j, x, up, block) == _tail_sum_loop(j, x, up), (a, x, block)
