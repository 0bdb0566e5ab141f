# SPDX-License-Identifier: LGPL-3.0-or-later
"""Analytic link budget: success probability, rate and fidelity from a lab description.

Independent of the Monte Carlo: closed forms after ion-photon-anchors §4.1–4.3, extended where
the simulated model is more specific (double excitation also raises the herald probability;
polarisation flips of both photons cancel). Per node: photon detection probability
η_X = b·η_optics·QE·g_gate, emission probabilities p1/p2 of the nominal pulse, pumped fraction p0.

- genuine heralds   P_n = ½·p1_A p1_B η_A η_B (p's include p0)
- double excitation P_2X = p2_X (p1_Y η_A η_B + ½ η_X²), state fidelity ¼
- false (dark)      P_dc = 2d(p1_A η_A + p1_B η_B) + 4d², state fidelity ¼
- genuine fidelity  F_n = F_pol (1 + M·c_phase·c_T2)/2, F_pol = (1−ε_A)(1−ε_B) + ε_Aε_B
- rate R = P·f_att·D, D = T_run/(T_run + T_cool + T_overhead)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .attempts import mode_overlap, pulse_stats
from .excitation import pumping_probability
from .lab import Lab, Node
from .readout import fluorescence_rates, optimal_threshold

__all__ = ["Budget", "format_budget", "predict"]


@dataclass(frozen=True)
class Budget:
    """Predicted link performance. Infidelity terms are one-at-a-time contributions (1 − F)."""

    lab: str
    eta: tuple[float, float]
    p_succ: float
    p_genuine: float
    attempt_rate_hz: float
    duty_cycle: float
    rate_hz: float
    fidelity_state: float
    fidelity_measured: float
    terms: dict[str, float]
    spam: tuple[float, float]


def _photon_eta(lab: Lab, node: Node) -> tuple[float, float, float, float]:
    """(η per photon, p1, p2, p0) of one node for the nominal loop."""
    lp = lab.loop
    stats = pulse_stats(node, 0, round(node.excite.pulse_length_s / 1e-9))
    qe = sum(d.efficiency for d in lab.bsa.detectors) / 4
    jit = sum(d.jitter_s for d in lab.bsa.detectors) / 4
    g = stats.gate_probability(lp.gate_start_s, lp.gate_start_s + lp.gate_length_s, 0.0, jit)
    eta = node.species.branching_ratio * node.optics.efficiency * qe * g
    r = pumping_probability(lp.pump_s, node.pumping_time_s)
    keep = 1 - 0.5 * stats.p_emit
    p0 = r / (1 - (1 - r) * keep) if r > 0 else 0.0
    return eta, p0 * (stats.p_emit - stats.p_double), p0 * stats.p_double, p0


def _coherence_t2(node: Node, t: float) -> float:
    if node.dephasing == "exponential":
        return math.exp(-t / node.t2_s)
    return math.exp(-(t / node.t2_s) ** 2)


def _spam(node: Node) -> float:
    """Readout (Poisson overlap at the optimal threshold) + preparation error of one ion."""
    b, d = fluorescence_rates(node.readout, node.motion, node.motion.doppler_n)
    t = node.readout.duration_s
    _, err = optimal_threshold(b * t, d * t)
    return err + node.readout.prep_error


def predict(lab: Lab) -> Budget:
    """Analytic prediction for ``lab``'s nominal loop (``[loop]``)."""
    a, b = lab.nodes
    lp = lab.loop
    (eta_a, p1a, p2a, _), (eta_b, p1b, p2b, _) = _photon_eta(lab, a), _photon_eta(lab, b)
    n_run = tuple(n.motion.doppler_n for n in lab.nodes)
    m = mode_overlap(lab, 0.0, n_run)  # type: ignore[arg-type]
    d = sum(-math.expm1(-x.dark_rate_hz * lp.gate_length_s) for x in lab.bsa.detectors) / 4
    p_n = 0.5 * p1a * p1b * eta_a * eta_b
    p_2 = p2a * (p1b * eta_a * eta_b + 0.5 * eta_a ** 2) + p2b * (p1a * eta_a * eta_b
                                                                 + 0.5 * eta_b ** 2)
    p_dc = 2 * d * (p1a * eta_a + p1b * eta_b) + 4 * d * d
    p = p_n + p_2 + p_dc
    ea, eb = a.optics.polarisation_mixing, b.optics.polarisation_mixing
    f_pol = (1 - ea) * (1 - eb) + ea * eb
    wq = 0.5 * (a.omega_q + b.omega_q)
    if lp.phase_correction:
        var = sum(x.jitter_s ** 2 for x in lab.bsa.detectors) / 2 + 2 * (1e-9) ** 2 / 12
        c_phase = math.exp(-0.5 * wq * wq * var)
    else:
        tau = 0.5 * (a.species.lifetime_s + b.species.lifetime_s)
        c_phase = 1 / (1 + (wq * tau) ** 2)
    c_t2 = _coherence_t2(a, lp.herald_to_rotation_s) * _coherence_t2(b, lp.herald_to_rotation_s)
    f_n = f_pol * (1 + m * c_phase * c_t2) / 2
    f_state = (p_n * f_n + 0.25 * (p_2 + p_dc)) / p
    sa, sb = _spam(a), _spam(b)
    # SPAM after ion-photon-anchors §4.3 [D]: P_odd' = P_odd(1−ε_A−ε_B) + (ε_A+ε_B)(1−P_odd),
    # C' = C(1−2ε_A)(1−2ε_B), F = ½(P_odd + C)
    p_odd = (p_n * f_pol + 0.5 * (p_2 + p_dc)) / p
    c = 2 * f_state - p_odd
    e2 = sa + sb
    f_meas = 0.5 * (p_odd * (1 - e2) + e2 * (1 - p_odd) + c * (1 - 2 * sa) * (1 - 2 * sb))
    terms = {
        "mode overlap (1-M)/2": (1 - m) / 2,
        "polarisation mixing": 1 - f_pol,
        "detection-time phase": (1 - c_phase) / 2,
        "decoherence (T2)": (1 - c_t2) / 2,
        "double excitation": 0.75 * p_2 / p,
        "dark counts": 0.75 * p_dc / p,
        "SPAM (measured only)": f_state - f_meas,
    }
    duty = lp.run_s / (lp.run_s + lp.cool_s + lp.overhead_s)
    f_att = 1.0 / lp.cycle_s
    return Budget(lab.name, (eta_a, eta_b), p, p_n, f_att, duty, p * f_att * duty, f_state,
                  f_meas, terms, (sa, sb))


def format_budget(lab: Lab) -> str:
    """Human-readable budget for ``ionlink-sim budget LAB``."""
    bd = predict(lab)
    lines = [
        f"lab {bd.lab}: {lab.description}".rstrip(": "),
        f"  photon detection probability per node  η_A = {bd.eta[0]:.4f}, η_B = {bd.eta[1]:.4f}",
        (f"  success probability per attempt        P = {bd.p_succ:.3e}"
        f"  (genuine {bd.p_genuine:.3e})"),
        (f"  attempt rate                           f = {bd.attempt_rate_hz / 1e6:.3f} MHz,"
        f" duty cycle D = {bd.duty_cycle:.3f}"),
        f"  heralded rate                          R = {bd.rate_hz:.1f} s^-1",
        f"  heralded-state fidelity                F = {bd.fidelity_state:.4f}",
        (f"  measured fidelity (with SPAM)          F = {bd.fidelity_measured:.4f}"
        f"  (SPAM ε_A = {bd.spam[0]:.4f}, ε_B = {bd.spam[1]:.4f})"),
        "  error budget (1 - F, one term at a time):",
    ]
    for name, v in bd.terms.items():
        lines.append(f"    {name:<30s} {v:.5f}")
    return "\n".join(lines)
