# SPDX-License-Identifier: LGPL-3.0-or-later
"""The arrival offset between the nodes' photons (analysis.arrival_offset): unbiased over flat
backgrounds that differ between the nodes, intervals that cover, the warning's threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.arrival_offset import (
    WARN_COST,
    arrival_offset,
    arrival_window,
    offset_warning,
    overlap_cost,
)
from analysis.estimate import Estimate

TAU = 7.4
WINDOW = (26, 26 + math.ceil(8 * TAU))


def _clicks(rng, photons, delay, dark, jitter=0.3):
    """Floored click times: ``photons`` decays from ``delay`` with Gaussian jitter, and a Poisson
    number of flat dark clicks, ``dark`` expected in the window."""
    t = delay + rng.exponential(TAU, photons) + rng.normal(0, jitter, photons)
    flat = rng.uniform(WINDOW[0], WINDOW[1], rng.poisson(dark))
    return np.floor(np.concatenate([t, flat])).astype(np.int64)


def test_offset_is_unbiased_and_its_interval_covers():
    """300 synthetic calibrations: node B 1.5 ns late, 400 photons a node, node A over 150
    expected dark clicks in the window, node B over 20. The mean of the estimates lies within
    0.1 ns of 1.5 (its standard error ≈ 0.04 ns), and the 95 % intervals cover 1.5 in 91-99 %
    of them (binomial spread at 300: 1.3 %)."""
    rng = np.random.default_rng(11)
    values, covered = [], 0
    for _ in range(300):
        a = _clicks(rng, 400, 30.0, 150)
        b = _clicks(rng, 400, 31.5, 20)
        off = arrival_offset(a, b, WINDOW, (150, 20)).offset
        values.append(off.value)
        covered += off.lo <= 1.5 <= off.hi
    assert np.mean(values) == pytest.approx(1.5, abs=0.1)
    assert 0.91 <= covered / 300 <= 0.99


def test_the_background_is_taken_out():
    """Equal paths, node A with 600 expected dark clicks in the window and node B none: without
    the background's share taken out node A's mean moves ≈ 9 ns towards the window's centre."""
    rng = np.random.default_rng(3)
    a = _clicks(rng, 800, 30.0, 600)
    b = _clicks(rng, 800, 30.0, 0)
    off = arrival_offset(a, b, WINDOW, (600, 0)).offset
    assert off.lo < 0 < off.hi
    naive = arrival_offset(a, b, WINDOW, (0, 0)).offset
    assert naive.hi < -5


def test_too_few_photons_and_a_bad_window_are_refused():
    rng = np.random.default_rng(1)
    a = _clicks(rng, 8, 30.0, 0)
    with pytest.raises(ValueError, match="fewer than 10 photons"):
        arrival_offset(a, _clicks(rng, 100, 30.0, 0), WINDOW, (0, 0))
    with pytest.raises(ValueError, match="stop > start"):
        arrival_offset(a, a, (40, 40), (0, 0))


def test_window_follows_the_earlier_edge_inside_the_run_window():
    assert arrival_window(30.7, TAU, (0, 1000)) == (26, 26 + 60)
    assert arrival_window(2.0, TAU, (0, 40)) == (0, 40)


def test_warning_only_for_a_resolved_offset_that_costs_fidelity():
    def est(v, half):
        return Estimate(v, v - half, v + half, 0.95, "test")

    assert offset_warning(est(2.0, 2.5), TAU) is None  # not resolved
    assert overlap_cost(0.05, TAU) < WARN_COST
    assert offset_warning(est(0.05, 0.01), TAU) is None  # resolved, costs < 0.005
    msg = offset_warning(est(-6.0, 1.0), TAU)
    assert msg is not None and msg.startswith(
        "node a's photons arrive 6.00 ns [5.00, 7.00] after node b's"
    )
    assert f"{math.exp(-6 / TAU):.3f}" in msg and f"{overlap_cost(6.0, TAU):.3f}" in msg
