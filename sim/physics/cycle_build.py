# SPDX-License-Identifier: LGPL-3.0-or-later
"""The cycle law of an entangler configuration built from the lab description
(:func:`build_cycle_model`: each node's beam windows, excitation and emission, the detectors'
acceptance of each node's photons, the mode overlap; :class:`~.attempts.CycleModel` holds the law
and draws from it), and the configuration the experiments play by default
(:func:`nominal_cycle`)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .attempts import CycleModel, NodeCycle
from .bsa import IDENTITY_JONES, NodeEmission, build_round
from .excitation import pumping_probability
from .lab import Lab
from .photon_modes import MU_S, Jones, mode_overlap, node_emission, pulse_stats

__all__ = ["build_cycle_model", "nominal_cycle"]


def _node_windows(
    lab: Lab, outputs: dict[int, tuple[int, int]]
) -> list[dict[str, tuple[int, int]]]:
    """Map entangler output windows onto (node, beam role)."""
    res: list[dict[str, tuple[int, int]]] = [{}, {}]
    for idx, win in outputs.items():
        dev = lab.entangler.outputs[idx]
        for k, node in enumerate(lab.nodes):
            for role in ("pump", "excite", "cool", "repump"):
                if getattr(node, role).device == dev:
                    res[k][role] = win
    return res


def _node_acceptance(
    lab: Lab, gp: list[list[float]], emitting: list[int]
) -> tuple[list[float], list[float]]:
    """(each node's transmission t_k, each detector's acceptance a_i) from ``gp[i][k]``, the
    probability that node k's photon falls in detector i's gate: a photon of node k is registered
    by detector i with probability t_k·a_i = QE_i·gp[i][k]. The gate's share that differs between
    the nodes, t_k = G_k / max(G) with G_k = max_i gp[i][k], is a loss on node k's photon before
    the beam splitter (its photons arriving later or earlier than the other node's miss the gate
    more often): with the nodes' photons apart in time, P(ψ±) ∝ g_A·g_B, the budget's per-node
    law, not the square of their mean (≈ 1 % more at a 6 ns offset, +16 % at −6 ns). What is left
    per detector, QE_i·gp[i][k]/t_k, is averaged over the emitting nodes: exact when the gates
    treat the nodes alike up to that factor (equal gates and jitters), as for photons arriving
    together (t_k = 1: the mean of gp, as before)."""
    trans = [1.0, 1.0]
    best = [max((gp[i][k] for i in range(4)), default=0.0) for k in (0, 1)]
    top = max((best[k] for k in emitting), default=0.0)
    if top > 0:
        for k in emitting:
            if best[k] != top:
                trans[k] = best[k] / top
    acc = [0.0] * 4
    for i, det in enumerate(lab.bsa.detectors):
        share = [gp[i][k] / trans[k] for k in emitting if trans[k] > 0]
        acc[i] = det.efficiency * (sum(share) / len(share) if share else 0.0)
    return trans, acc


def build_cycle_model(
    lab: Lab,
    outputs: dict[int, tuple[int, int]],
    gates: dict[int, tuple[int, int]],
    cycle_mu: int,
    n_bars: tuple[float, float] = (0.0, 0.0),
    jones: tuple[Jones, Jones] = (IDENTITY_JONES, IDENTITY_JONES),
    pump_light: tuple[float, float] = (1, 1),
) -> CycleModel:
    """Compute the exact cycle law for one entangler configuration (no caching here).

    :param outputs: entangler output index → (start_mu, stop_mu) within the cycle.
    :param gates: gate input index → (start_mu, stop_mu) relative to cycle start.
    :param n_bars: mean phonon numbers of the two ions during the run.
    :param jones: each node's polarisation rotation to the analyser during the run.
    :param pump_light: each node's pumping light relative to the lab's (:mod:`.beam_rf`; 0:
        its pump beam gives no light, so the ion is not pumped).
    """
    wins = _node_windows(lab, outputs)
    ncs: list[NodeCycle] = []
    ems: list[NodeEmission | None] = []
    for node, w, jo, light in zip(lab.nodes, wins, jones, pump_light):
        ex = w.get("excite")
        if ex is None or ex[1] <= ex[0] or ex[0] >= cycle_mu:
            ncs.append(NodeCycle(None, 0.0, 0.0))
            ems.append(None)
            continue
        stop = min(ex[1], cycle_mu)
        stats = pulse_stats(node, ex[0], stop)
        pw = w.get("pump")
        t_pump = 0.0 if pw is None else max(min(pw[1], ex[0], cycle_mu) - pw[0], 0) * MU_S
        r = pumping_probability(t_pump * light, node.pumping_time_s)
        # stationary |0⟩ population: p = r + (1 − r)·p·(1 − p_emit/2)
        keep = 1 - 0.5 * stats.p_emit
        denom = 1 - (1 - r) * keep
        p0 = r / denom if denom > 0 and r > 0 else 0.0
        off = ex[0] * MU_S + node.excite.delay_s + node.optics.photon_delay_s
        ncs.append(NodeCycle(stats, off, p0))
        ems.append(node_emission(node, stats, jones=jo))
    both = ncs[0].stats is not None and ncs[1].stats is not None
    dt = ncs[0].offset_s - ncs[1].offset_s if both else 0.0
    m = round(mode_overlap(lab, dt, n_bars), 9)
    gates_s = np.full((4, 2), np.nan)
    dark = [0.0] * 4
    # gp[i][k]: probability that node k's photon (+ detector i's jitter) falls in gate i
    gp = [[0.0, 0.0] for _ in range(4)]
    for i, det in enumerate(lab.bsa.detectors):
        if i not in gates or gates[i][1] <= gates[i][0]:
            continue
        g0, g1 = gates[i][0] * MU_S, min(gates[i][1], cycle_mu) * MU_S
        gates_s[i] = (g0, g1)
        dark[i] = -math.expm1(-det.dark_rate_hz * (g1 - g0))
        for k, nc in enumerate(ncs):
            if nc.stats is not None:
                gp[i][k] = nc.stats.gate_probability(g0, g1, nc.offset_s, det.jitter_s)
    trans, acc = _node_acceptance(lab, gp, [k for k in (0, 1) if ems[k] is not None])
    ems = [
        em if em is None or t == 1.0 else replace(em, eta=em.eta * t) for em, t in zip(ems, trans)
    ]
    table = build_round(
        ems[0], ems[1], m, tuple(round(a, 12) for a in acc), tuple(round(x, 15) for x in dark)
    )
    pa, pb = ncs[0].p_pumped if ems[0] else 0.0, ncs[1].p_pumped if ems[1] else 0.0
    rho0 = np.diag(np.kron([pa, 1 - pa], [pb, 1 - pb])).astype(complex)
    return CycleModel(
        lab, table, rho0, (ncs[0], ncs[1]), gates_s, cycle_mu, table.pattern_probs(rho0)
    )


def nominal_cycle(lab: Lab) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]], int]:
    """Entangler configuration matching the lab's nominal loop (``[loop]``): pump from 8 mu for
    ``pump_s``, excitation 16 mu later, gates at arrival + ``gate_start_s`` for ``gate_length_s``.

    :return: (outputs, gates, cycle_mu) for :meth:`PhysicsWorld.cycle_model`.
    """
    lp = lab.loop
    cycle = round(lp.cycle_s / MU_S)
    pump = (8, 8 + 8 * max(int(lp.pump_s / MU_S) // 8, 1))
    exc0 = pump[1] + 16
    outputs: dict[int, tuple[int, int]] = {}
    for idx, dev in enumerate(lab.entangler.outputs):
        for node in lab.nodes:
            if dev == node.pump.device:
                outputs[idx] = pump
            elif dev == node.excite.device:
                length = node.excite.pulse_length_s if node.excite.mode == "aom" else 0.0
                outputs[idx] = (exc0, exc0 + max(8, 8 * math.ceil(length / MU_S / 8)))
    node = lab.nodes[0]
    arrival = exc0 * MU_S + node.excite.delay_s + node.optics.photon_delay_s
    g0 = round((arrival + lp.gate_start_s) / MU_S)
    g1 = g0 + round(lp.gate_length_s / MU_S)
    if g1 > cycle:
        raise ValueError(f"lab {lab.name}: the nominal gate ends after the cycle")
    return outputs, {i: (g0, g1) for i in range(4)}, cycle
