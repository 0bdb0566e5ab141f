# SPDX-License-Identifier: LGPL-3.0-or-later
"""Time offset between the two nodes' photons, from the clicks of a single-photon run.

The nodes' photons interfere at the Bell-state analyser only as far as they arrive together: for
exponential wavepackets of lifetime τ offset by Δt the mode overlap is e^(−|Δt|/τ) (the law of the
simulator's physics and of the budget), so 1 ns at τ = 7.4 ns already costs
(1 − e^(−1/7.4))/2 ≈ 0.063 of the heralded state's fidelity. The rising edges the lifetime fit
finds resolve whole bins at best (4–5 ns at 3 ns of detector jitter); the mean arrival time of
each node's photons, the flat background's share taken out, resolves ≈ τ/√N, and detector jitter
and the 1-mu flooring of timestamps shift both nodes' means alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, z_of_cl

__all__ = ["ArrivalOffset", "arrival_offset", "arrival_window", "offset_warning", "overlap_cost"]

#: photons (clicks above the expected background) a node needs for a mean arrival time
MIN_PHOTONS = 10
#: :func:`offset_warning` speaks when the offset's interval excludes 0 and it costs at least this
#: much of the heralded state's fidelity (:func:`overlap_cost`; 0.07 ns at τ = 7.4 ns)
WARN_COST = 0.005
#: :func:`arrival_window` opens this many mu before the earlier rising edge ...
LEAD_MU = 4
#: ... and lasts this many lifetimes (the tail beyond, e^(−8), biases the means by < 0.01 τ)
WINDOW_TAUS = 8


@dataclass(frozen=True)
class ArrivalOffset:
    """Result of :func:`arrival_offset` (times in the unit of the clicks: mu, ns on Kasli).

    :param offset: node B's mean photon arrival minus node A's, with a normal interval
    :param means: each node's mean photon arrival time in the window
    :param photons: each node's clicks in the window less the expected background
    :param window: the window [start, stop) the means are taken over
    """

    offset: Estimate
    means: tuple[float, float]
    photons: tuple[float, float]
    window: tuple[float, float]


def _mean_arrival(t: np.ndarray, start: float, stop: float, background: float) -> tuple:
    """(mean photon arrival, its variance, photons) of clicks ``t`` in [start, stop), of which
    ``background`` are expected from a flat background: Σ(x − m) less the background's share
    about the window's centre c, over the photons S = N − B; its variance is that of the
    clicks' Poisson sum, Σ(x − m)²/S² (the expected background taken as known)."""
    x = t[(t >= start) & (t < stop)].astype(float) + 0.5  # a timestamp k is the bin [k, k + 1)
    s = x.size - background
    if s < MIN_PHOTONS:
        raise ValueError(
            f"{x.size} clicks in [{start:g}, {stop:g}) where the background gives "
            f"{background:.1f}: fewer than {MIN_PHOTONS} photons"
        )
    m = float(np.mean(x))
    c = 0.5 * (start + stop)
    mean = m + (float(np.sum(x - m)) - background * (c - m)) / s
    return mean, float(np.sum((x - m) ** 2)) / s**2, s


def arrival_offset(
    t_a: np.ndarray,
    t_b: np.ndarray,
    window: tuple[float, float],
    background: tuple[float, float],
    *,
    cl: float = DEFAULT_CL,
) -> ArrivalOffset:
    """Node B's photons' mean arrival time minus node A's, over ``window``.

    :param t_a: node A's click times (floored timestamps, mu after the excitation)
    :param t_b: node B's, the same
    :param window: [start, stop) in mu: it must open before both nodes' photons and hold their
        decay (clicks outside are ignored; a decay cut by the window's end biases the means)
    :param background: expected flat-background clicks (dark counts) of each node in the window
    :param cl: confidence level of the normal interval
    :raises ValueError: if a node has fewer than :data:`MIN_PHOTONS` photons in the window
    """
    start, stop = float(window[0]), float(window[1])
    if not stop > start:
        raise ValueError(f"need a window with stop > start, got [{start:g}, {stop:g})")
    ma, va, sa = _mean_arrival(np.asarray(t_a), start, stop, float(background[0]))
    mb, vb, sb = _mean_arrival(np.asarray(t_b), start, stop, float(background[1]))
    d, half = mb - ma, z_of_cl(cl) * math.sqrt(va + vb)
    method = (
        f"difference of background-subtracted mean arrival times in [{start:g}, {stop:g}), "
        "normal interval"
    )
    return ArrivalOffset(
        Estimate(d, d - half, d + half, cl, method), (ma, mb), (sa, sb), (start, stop)
    )


def overlap_cost(offset: float, tau: float) -> float:
    """Fidelity lost to an arrival ``offset`` between the nodes' photons of lifetime ``tau``
    (same unit) where their overlap is otherwise perfect: (1 − e^(−|offset|/τ))/2 (the budget's
    mode-overlap term multiplies the other overlap factors by e^(−|offset|/τ))."""
    return -0.5 * math.expm1(-abs(offset) / tau)


def arrival_window(onset: float, tau: float, window: tuple[int, int]) -> tuple[int, int]:
    """The window [start, stop) (whole mu) :func:`arrival_offset` is taken over: from
    :data:`LEAD_MU` before the earlier node's rising edge ``onset``, :data:`WINDOW_TAUS`
    lifetimes ``tau`` long, inside the run's ``window``."""
    start = max(int(window[0]), math.floor(onset) - LEAD_MU)
    return start, min(int(window[1]), start + math.ceil(WINDOW_TAUS * tau))


def offset_warning(offset: Estimate, tau: float) -> str | None:
    """A warning for an arrival ``offset`` (node B − node A, the unit of ``tau``: ns on Kasli)
    whose interval excludes 0 and whose :func:`overlap_cost` is at least :data:`WARN_COST`;
    None otherwise."""
    if not offset.lo > 0 and not offset.hi < 0:
        return None
    cost = overlap_cost(offset.value, tau)
    if cost < WARN_COST:
        return None
    later, earlier = ("b", "a") if offset.value > 0 else ("a", "b")
    lo, hi = sorted((abs(offset.lo), abs(offset.hi)))
    return (
        f"node {later}'s photons arrive {abs(offset.value):.2f} ns [{lo:.2f}, {hi:.2f}] after "
        f"node {earlier}'s (mean arrival times): their overlap at the analyser falls by "
        f"e^(-|dt|/tau) = {math.exp(-abs(offset.value) / tau):.3f}, about {cost:.3f} of the "
        "entangled state's fidelity; equalise the two photon paths"
    )
