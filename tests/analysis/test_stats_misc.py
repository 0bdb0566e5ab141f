# SPDX-License-Identifier: LGPL-3.0-or-later
"""Herald statistics, photon timing and readout estimators."""

import numpy as np
import pytest

from analysis import heralds as hs
from analysis import photons as ph
from analysis import readout


def test_success_probability_and_rates():
    p = hs.success_probability(50, 100000)
    assert p.value == 5e-4 and p.lo < 5e-4 < p.hi and p.method == "Clopper-Pearson"
    r = hs.herald_rate(100, 4.0)
    assert r.value == 25.0 and r.lo < 25 < r.hi


def test_attempts_distribution_geometric_vs_not(rng):
    p = 0.01
    edges = hs.geometric_edges(p)
    a = rng.geometric(p, 20000)
    good = hs.attempts_distribution(
        np.bincount(np.searchsorted(edges, a, "right") - 1, minlength=edges.size),
        edges,
        p,
        a.mean(),
    )
    assert good.p_value > 1e-4 and good.observed.sum() == 20000
    assert good.expected.sum() == pytest.approx(20000)
    b = np.full(20000, 100)  # not geometric at all
    bad = hs.attempts_distribution(
        np.bincount(np.searchsorted(edges, b, "right") - 1, minlength=edges.size), edges, p, 100.0
    )
    assert bad.p_value < 1e-10


def test_pattern_split():
    c = np.bincount([0b0011, 0b1100, 0b1001, 0b0110, 0b0110, 0b0001], minlength=16)
    s = hs.pattern_split(c)
    assert (s.psi_plus, s.psi_minus, s.other) == (2, 3, 1)
    assert list(hs.psi_from_pattern(np.array([3, 12, 9, 6, 1]))) == [1, 1, -1, -1, 0]


def test_incremental_histogram_equals_one_shot(rng):
    t = rng.integers(-5, 300, 10000)
    h = ph.IncrementalHistogram()
    for c in np.array_split(t, 7):
        h.add(c)
    want = np.bincount(t - t.min())
    assert np.array_equal(h.counts, want) and h.edges_mu[0] == t.min() and h.total == t.size
    e, c = h.rebinned(50)
    assert c.sum() == t.size and e.size == c.size + 1


def test_window_tradeoff_is_monotone():
    t_last = np.arange(100)
    pts = ph.window_tradeoff(t_last, [10, 50, 99], lambda m: None, lab_time_s=2.0)
    assert (
        [p.heralds for p in pts] == [11, 51, 100]
        and pts[-1].fraction == 1.0
        and pts[-1].rate_hz == 50.0
    )


def test_dark_rates():
    r = ph.dark_rates(np.array([10, 0, 3, 7]), 2.0)
    assert [x.value for x in r] == [5.0, 0.0, 1.5, 3.5] and r[1].hi > 0


def test_readout_threshold(rng):
    bright = rng.poisson(10, 20000)
    dark = rng.poisson(0.3, 20000)
    res = readout.optimise_threshold(bright, dark, rng=rng)
    assert res.threshold in (2, 3)
    from scipy import stats

    t = res.threshold
    truth = 0.5 * (stats.poisson.cdf(t, 10) + stats.poisson.sf(t, 0.3))
    assert res.error.lo - 1e-3 <= truth <= res.error.hi + 1e-3
    with pytest.raises(ValueError):
        readout.optimise_threshold([], dark)


def test_readout_error_interval_tails_at_small_errors():
    """Error rates 0.002 (bright) and 0.001 (dark), 500 shots each: each tail of the mean
    error's 95 % interval misses at most 2.5 % + 3σ (400 seeds, σ binomial). The Jeffreys-draw
    percentile it replaced put the lower bound above the truth 7 % of the time (600 seeds)."""
    trials, n, truth, a = 400, 500, 0.0015, 0.025
    r = np.random.default_rng(8)
    above = below = 0
    for i, (kb, kd) in enumerate(r.binomial(n, [0.002, 0.001], size=(trials, 2))):
        bright = np.r_[np.full(n - kb, 10), np.zeros(kb, int)]
        dark = np.r_[np.zeros(n - kd, int), np.full(kd, 10)]
        e = readout.optimise_threshold(bright, dark, n_boot=1000, rng=np.random.default_rng(i))
        above += truth > e.error.hi
        below += truth < e.error.lo
    most = trials * a + 3 * np.sqrt(trials * a * (1 - a))
    assert above <= most and below <= most


@pytest.mark.parametrize("left", [0.0, 0.01, 0.3, 0.77])
def test_bright_left_dark_recovers_the_share(left):
    """Bright shots of which ``left`` were prepared dark (their π pulse failed): 40 sets of 500
    shots, bright mean 18, dark 0.4 (oxford2020's readout). The mean estimate lies within 0.01
    of the share (its standard error ≤ 0.003), the 95 % intervals cover it in ≥ 85 % of the
    sets, and the fit's Poisson mean is the bright ion's."""
    rng = np.random.default_rng(17)
    values, covered, means = [], 0, []
    for _ in range(40):
        dark = rng.poisson(0.4, 500)
        bright = rng.poisson(18.0, 500)
        flip = rng.random(500) < left
        bright[flip] = rng.poisson(0.4, int(flip.sum()))
        r = readout.bright_left_dark(bright, dark)
        values.append(r.fraction.value)
        covered += r.fraction.lo <= left <= r.fraction.hi
        means.append(r.bright_mean)
        assert r.resolved(3)
    assert np.mean(values) == pytest.approx(left, abs=0.01)
    assert covered >= 34
    assert np.mean(means) == pytest.approx(18.0, abs=0.3)


def test_bright_left_dark_is_not_resolved_for_a_dim_ion():
    """A dim ion (bright mean 1.5 over a dark mean of 0.4): a Poisson count of its mean is 0 or
    1 a good half of the time, so dark-looking bright shots say nothing about the π pulse."""
    rng = np.random.default_rng(3)
    r = readout.bright_left_dark(rng.poisson(1.5, 500), rng.poisson(0.4, 500))
    assert not r.resolved(1)
    with pytest.raises(ValueError, match="no bright shots"):
        readout.bright_left_dark([], [1, 2])
