# SPDX-License-Identifier: LGPL-3.0-or-later
"""The draws of a click made in law by :mod:`sim.devices.block_law`: the world's generator's
variates in batches, and a detector's clicks (dead time, afterpulses) with the law the world's
own code draws them with (:class:`~sim.physics.detectors.ClickChannel`), from other variates of
the same generator (the photon's emission time, the law of
:meth:`~sim.physics.excitation.ExcitationStats.sample_times_one`, is drawn in
:meth:`~sim.devices.block_law.BlockLaw._click`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import chain
from typing import Any

__all__ = ["Draws", "detector_clicks"]


class Draws:
    """Uniform and standard normal variates of the world's generator drawn in batches (a click in
    law takes ≈ 8; one generator call each would cost more than the rest of the click).

    :attr:`u` and :attr:`z` are the ``__next__`` of an iterator over the batches, each batch
    drawn when the previous one is used up and taken from its end (a C call a variate, no
    Python frame: a block draws ≈ 1500 a herald); the same variates in the same order, and the
    generator's batches drawn at the same points, as popping them from a list refilled when
    empty."""

    __slots__ = ("rng", "u", "z")

    def __init__(self, rng: Any) -> None:
        self.rng = rng
        #: a uniform variate in [0, 1)
        self.u: Callable[[], float] = _batches(lambda: rng.random(256).tolist())
        #: a standard normal variate
        self.z: Callable[[], float] = _batches(lambda: rng.standard_normal(64).tolist())


def _batches(draw: Callable[[], list[float]]) -> Callable[[], float]:
    """The ``__next__`` of the variates of ``draw()``'s lists, each from its end, the next list
    drawn when one is used up (:func:`itertools.chain.from_iterable` asks its source for the
    next list only then)."""
    return chain.from_iterable(map(reversed, iter(draw, None))).__next__


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
