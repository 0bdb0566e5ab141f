# SPDX-License-Identifier: LGPL-3.0-or-later
"""A readout's clicks on the cheap path are the reference path's, draw for draw: the click
times in mu (floats as the array path computes them) and the PMT channel's edges and state."""

import heapq

import numpy as np
import pytest

from sim.physics.detectors import ClickChannel
from sim.physics.readout import poisson_click_mu, poisson_click_times


@pytest.mark.parametrize("rate_hz", [0.0, 100.0, 60e3, 3e6])  # none, ~0 (a dark ion), ~18, ~900
def test_click_times_in_mu_are_the_array_paths(rate_hz):
    mu = 1e-9
    for t_a, t_b in [(538_962_695, 539_262_695), (1000, 1000), (7, 300_007)]:
        a, b = np.random.default_rng(5), np.random.default_rng(5)
        want = [int(t) for t in np.floor(poisson_click_times(a, rate_hz, t_a * mu, t_b * mu) / mu)]
        got = poisson_click_mu(b, rate_hz, t_a, t_b, mu)
        assert got == want
        assert a.random() == b.random()  # the generators went the same way


def _reference_drain(ch: ClickChannel, t_end: int) -> list:
    """The click loop one arrival at a time (a detector without afterpulses)."""
    out = list(ch._pending)  # queued edges first
    raw = ch._raw
    while raw and raw[0] < t_end:
        t = heapq.heappop(raw)
        if t - ch.last_click_mu < ch.dead_mu:
            continue
        ch.last_click_mu = t
        out += [(t, 1), (t + ch.width_mu, 0)]
    ch._pending = [e for e in out if e[0] >= t_end]
    return [e for e in out if e[0] < t_end]


def test_sorted_arrivals_drain_as_pushed_ones():
    rng = np.random.default_rng(2)
    fast = ClickChannel(rng, width_s=10e-9)
    slow = ClickChannel(rng, width_s=10e-9)
    t = 0
    for _ in range(200):
        chunk = sorted((t + rng.integers(0, 400, size=int(rng.integers(0, 12)))).tolist())
        if rng.random() < 0.2 and chunk:  # sometimes before what is queued: pushed one by one
            chunk = sorted(c - 300 for c in chunk)
        fast.add_sorted_arrivals(chunk)
        slow.add_arrivals(chunk)
        assert fast._raw == slow._raw  # the same heap, element for element
        t += int(rng.integers(0, 300))
        assert fast.drain(t) == _reference_drain(slow, t)
        assert fast.last_click_mu == slow.last_click_mu and fast._raw == slow._raw
