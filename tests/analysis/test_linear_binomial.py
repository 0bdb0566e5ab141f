# SPDX-License-Identifier: LGPL-3.0-or-later
"""Split Clopper–Pearson draws for linear combinations of proportions (analysis.linear_binomial);
their coverage is tested where they are used (test_bell.py, test_stats_misc.py)."""

import numpy as np
import pytest

from analysis.estimate import clopper_pearson
from analysis.linear_binomial import linear_binomial_draws, tail_interval


@pytest.mark.parametrize("k, n", [(0, 20), (3, 20), (17, 20), (20, 20)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_one_setting_is_clopper_pearson(k, n, sign):
    """One setting's interval is the Clopper–Pearson one (±c: mirrored), within the draws'
    quantile error (20000 draws: < 0.01 here)."""
    d = linear_binomial_draws([k], [n], [sign], 20000, np.random.default_rng(1))
    e = tail_interval(sign * k / n, d, method="m")
    cp = clopper_pearson(k, n)
    want = (cp.lo, cp.hi) if sign > 0 else (-cp.hi, -cp.lo)
    assert (e.lo, e.hi) == pytest.approx(want, abs=0.01)


def test_pseudo_outcome_goes_to_the_coarse_setting():
    """Two settings, 10 and 1000 trials, no successes: the lower draws of p₁ + p₂ are 0 and the
    upper bound is close to the one-setting Clopper–Pearson bound of the 10-trial setting
    (which carries ≈ 99 % of the pseudo-outcome), not the 1000-trial one's."""
    d = linear_binomial_draws([0, 0], [10, 1000], [1.0, 1.0], 20000, np.random.default_rng(2))
    e = tail_interval(0.0, d, method="m")
    assert e.lo == 0.0
    assert e.hi == pytest.approx(clopper_pearson(0, 10).hi, rel=0.05)


def test_bad_input_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n > 0"):
        linear_binomial_draws([1], [0], [1.0], 10, rng)
    with pytest.raises(ValueError, match="n > 0"):
        linear_binomial_draws([5], [4], [1.0], 10, rng)
    with pytest.raises(ValueError, match="non-zero"):
        linear_binomial_draws([1, 2], [4, 4], [0.0, 0.0], 10, rng)
    with pytest.raises(ValueError, match="shape"):
        linear_binomial_draws([1, 2], [4, 4], [1.0], 10, rng)
