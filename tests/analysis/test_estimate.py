# SPDX-License-Identifier: LGPL-3.0-or-later
import math

import numpy as np
import pytest
from scipy import stats

from analysis.estimate import Estimate, clopper_pearson, from_samples, poisson_rate, wilson


def test_clopper_pearson_matches_scipy_exact():
    """CP bounds equal scipy's exact binomial interval."""
    for k, n in [(0, 10), (3, 10), (10, 10), (57, 200)]:
        e = clopper_pearson(k, n, cl=0.9)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert e.lo == pytest.approx(ci.low, abs=1e-12)
        assert e.hi == pytest.approx(ci.high, abs=1e-12)
        assert e.method == "Clopper-Pearson" and e.cl == 0.9


def test_wilson_matches_scipy():
    e = wilson(7, 40, cl=0.95)
    ci = stats.binomtest(7, 40).proportion_ci(confidence_level=0.95, method="wilson")
    assert (e.lo, e.hi) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_boundaries_and_errors():
    assert clopper_pearson(0, 5).lo == 0.0 and clopper_pearson(5, 5).hi == 1.0
    for bad in [(0, 0), (-1, 5), (6, 5)]:
        with pytest.raises(ValueError):
            clopper_pearson(*bad)
    with pytest.raises(ValueError):
        clopper_pearson(1, 2, cl=1.0)


def test_poisson_zero_events_upper_bound():
    """For k = 0 the exact upper bound is −ln(α/2) events."""
    e = poisson_rate(0, 2.0, cl=0.95)
    assert e.lo == 0 and e.hi == pytest.approx(-math.log(0.025) / 2.0)
    with pytest.raises(ValueError):
        poisson_rate(1, 0.0)


def test_clopper_pearson_coverage(rng):
    """Coverage of CP is at least nominal (200 seeds, 3σ binomial tolerance)."""
    p, n, cl, trials = 0.3, 50, 0.68, 400
    ks = rng.binomial(n, p, trials)
    cover = sum(
        clopper_pearson(int(k), n, cl=cl).lo <= p <= clopper_pearson(int(k), n, cl=cl).hi
        for k in ks
    )
    assert cover >= trials * cl - 3 * math.sqrt(trials * cl * (1 - cl))


def test_from_samples_contains_value_and_clips():
    e = from_samples(1.02, np.linspace(0.9, 1.05, 100), method="m", clip=(0, 1))
    assert e.lo <= e.value <= e.hi <= 1.0
    with pytest.raises(ValueError):
        from_samples(0.5, np.array([np.nan] * 30), method="m")


def test_estimate_json_nan_is_null():
    d = Estimate(float("nan"), 0.0, 0.9, 0.95, "bound").to_dict()
    assert d["value"] is None and d["ci_high"] == 0.9 and d["method"] == "bound"
