# SPDX-License-Identifier: LGPL-3.0-or-later
"""What each node's photon is at the analyser: its emission for one excitation (single and
double excitation, collection, polarisation mixing, its path's rotation) and the two photons'
mode overlap (static × spectral × temporal × thermal), as the cycle law (:mod:`.attempts`), the
CPU path's quiet passes (:mod:`.quiet`) and the budget (:mod:`.budget`) take them."""

from __future__ import annotations

import math

from .bsa import IDENTITY_JONES, NodeEmission
from .excitation import ExcitationStats, excitation_stats
from .lab import Lab, Node

__all__ = [
    "MU_S",
    "Jones",
    "mode_overlap",
    "node_emission",
    "pulse_stats",
    "thermal_overlap",
    "timed_overlap",
]

MU_S = 1e-9  # one machine unit in s (Kasli, ref_period 1 ns)

Jones = tuple[complex, complex, complex, complex]


def node_emission(
    node: Node, stats: ExcitationStats, n_bar: float = 0.0, jones: Jones = IDENTITY_JONES
) -> NodeEmission:
    """Per-photon emission/transmission parameters of ``node`` for one excitation; ``jones`` is
    the polarisation rotation of its path to the analyser (row-major, identity by default)."""
    del n_bar
    eta = node.species.branching_ratio * node.optics.efficiency
    p2 = stats.p_double
    return NodeEmission(
        p1=max(stats.p_emit - p2, 0.0),
        p2=p2,
        eta=eta,
        eps_pol=node.optics.polarisation_mixing,
        jones=jones,
    )


def pulse_stats(node: Node, start_mu: int, stop_mu: int | None) -> ExcitationStats:
    """Excitation statistics of the excitation beam played on [start, stop) (pulsed: the edge)."""
    e = node.excite
    if e.mode == "pulsed":
        return excitation_stats(
            e.pulse_area_rad, e.pulse_length_s, node.species.lifetime_s, node.species.readdress_prob
        )
    length = max((stop_mu or start_mu) - start_mu, 0) * MU_S
    area = 2 * math.pi * e.rabi_frequency_hz * length
    return excitation_stats(area, length, node.species.lifetime_s, node.species.readdress_prob)


def mode_overlap(lab: Lab, dt_s: float, n_bars: tuple[float, float]) -> float:
    """Total mode overlap M: static × spectral × temporal (e^{−|Δt|/τ}) × thermal."""
    return thermal_overlap(lab, timed_overlap(lab, dt_s), n_bars)


def timed_overlap(lab: Lab, dt_s: float) -> float:
    """:func:`mode_overlap` before the thermal factors (static × spectral × temporal): the
    part a caller may keep for a photon time offset ``dt_s`` (s)."""
    tau = 0.5 * (lab.nodes[0].species.lifetime_s + lab.nodes[1].species.lifetime_s)
    m = lab.bsa.mode_overlap
    m /= 1 + (2 * math.pi * lab.bsa.frequency_mismatch_hz * tau) ** 2
    m *= math.exp(-abs(dt_s) / tau)
    return m


def thermal_overlap(lab: Lab, m: float, n_bars: tuple[float, float]) -> float:
    """:func:`mode_overlap` from its :func:`timed_overlap` ``m`` and the ions' n̄."""
    for node, n in zip(lab.nodes, n_bars):
        m /= 1 + n / node.motion.n_mode
    return m
