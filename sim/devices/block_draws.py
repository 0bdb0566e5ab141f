# SPDX-License-Identifier: LGPL-3.0-or-later
"""The draws of a click made in law by :mod:`sim.devices.block_law`: the world's generator's
variates in batches, a photon's emission time and a detector's clicks (dead time, afterpulses),
each with the law the world's own code draws it with
(:meth:`~sim.physics.excitation.ExcitationStats.sample_times_one`,
:class:`~sim.physics.detectors.ClickChannel`), from other variates of the same generator."""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

__all__ = ["Draws", "detector_clicks", "emission_time"]


class Draws:
    """Uniform and standard normal variates of the world's generator drawn in batches (a click in
    law takes ≈ 8; one generator call each would cost more than the rest of the click)."""

    __slots__ = ("rng", "_u", "_z")

    def __init__(self, rng: Any) -> None:
        self.rng = rng
        self._u: list[float] = []
        self._z: list[float] = []

    def u(self) -> float:
        """A uniform variate in [0, 1)."""
        if not self._u:
            self._u = self.rng.random(256).tolist()
        return self._u.pop()

    def z(self) -> float:
        """A standard normal variate."""
        if not self._z:
            self._z = self.rng.standard_normal(64).tolist()
        return self._z.pop()


def emission_time(stats: Any, draws: Draws) -> float:
    """A first-emission time given emission (s from the pulse start): the law of
    :meth:`~sim.physics.excitation.ExcitationStats.sample_times_one` (after the pulse with
    ``p_after``, exponential; else uniform in a bin drawn by its probability)."""
    if draws.u() < stats.p_after:
        return stats.pulse_length_s - stats.lifetime_s * math.log(1.0 - draws.u())
    cdf, edges = stats._bin_lists
    k = min(bisect_right(cdf, draws.u()), len(cdf) - 1)
    lo = edges[k]
    return lo + draws.u() * (edges[k + 1] - lo)


def detector_clicks(
    draws: Draws, det: Any, arrivals: list[int], before: int, last: int
) -> tuple[list[int], list[int]]:
    """A detector's clicks of ``arrivals`` (relative mu) before ``before``, from its last click
    ``last``: dead time and afterpulses as the detector makes them; the arrivals at or after
    ``before`` left (in order)."""
    dead, p_after = det.dead_mu, det.afterpulse_prob
    clicks: list[int] = []
    later: list[int] = []
    todo = sorted(arrivals)
    while todo:
        t = todo.pop(0)
        if t >= before:
            later.append(t)
            continue
        if t - last < dead:
            continue
        last = t
        clicks.append(t)
        if p_after > 0 and draws.u() < p_after:
            d = -det.afterpulse_delay_s * math.log(1.0 - draws.u()) / det.mu_s
            todo.append(t + max(int(d), 1))
            todo.sort()
    return clicks, later
