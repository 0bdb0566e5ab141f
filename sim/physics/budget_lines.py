# SPDX-License-Identifier: LGPL-3.0-or-later
"""The error budget's printed lines (``ionlink-sim budget``): the gateware loop's text
(:func:`format_budget`) and the lines the CPU loop's budget (:mod:`.cpu_budget`) shares with it,
each made from a budget dict (:func:`~.budget.budget_dict`)."""

from __future__ import annotations

from sim.budget_arguments import assumed_lines

from .budget import DEFAULT_ARGUMENTS, LoopArguments, budget_dict
from .lab import Lab

__all__ = ["format_budget", "gate_line", "lab_duty_line", "p_odd_line", "term_lines"]


def gate_line(d: dict) -> str:
    """The budget's line naming its detection gate (``d``: a budget dict's ``gate_s``,
    ``gate_excitation_s`` and ``gate_calibrated``): from the excitation, as ``--detection-gate``
    and the calibration take it, and from node A's earliest photon arrival."""
    g0, g1 = (x * 1e9 for x in d["gate_s"])
    e0, e1 = (x * 1e9 for x in d["gate_excitation_s"])
    origin = "a run's calibrated gate" if d["gate_calibrated"] else "the lab's nominal gate"
    return (
        f"  detection gate                         [{e0:.0f}, {e1:.0f}) ns from the excitation"
        f" ({origin}; [{g0:+.0f}, {g1:+.0f}) ns from the earliest photon arrival)"
    )


def lab_duty_line(d: dict) -> str:
    """The budget's line of :func:`lab_duty_cycle` (``d``: a budget dict's ``lab_duty_cycle``)."""
    return (
        f"  attempt cycles' share of lab time      {d['lab_duty_cycle']:.3f}"
        "  (cycle·R/P: what a run records as totals.duty_cycle; D is the loop's alone)"
    )


def p_odd_line(d: dict) -> str:
    """The Z-basis odd-parity line of a budget dict (what a ``mode z`` run measures)."""
    return (
        f"  Z-basis odd parity                     P_odd = {d['p_odd_state']:.4f}, measured "
        f"{d['p_odd_measured']:.4f}  (a z-mode run's figure: F ≤ P_odd)"
    )


def term_lines(d: dict) -> list[str]:
    """The budget's infidelity terms, one line each (``d``: a budget dict's ``terms``)."""
    head = "  error budget (1 - F, one term at a time):"
    return [head] + [f"    {name:<30s} {v:.5f}" for name, v in d["terms"].items()]


def format_budget(
    lab: Lab,
    mode: str = "parity",
    two_chassis: bool = False,
    arguments: LoopArguments = DEFAULT_ARGUMENTS,
) -> str:
    """Human-readable budget for ``ionlink-sim budget LAB`` (``arguments``: as
    :func:`budget_dict`)."""
    d = budget_dict(lab, mode, two_chassis, arguments)
    lines = [f"lab {d['lab']}: {lab.description}".rstrip(": ")]
    if two_chassis:
        lines.append(
            f"  two chassis: node B on a DRTIO satellite, fibre {lab.drtio.fibre_m:g} m, "
            f"latency {d['drtio_latency_s'] * 1e6:.3f} µs one way, herald → rotation "
            f"{d['herald_to_rotation_s'] * 1e6:.1f} µs"
        )
        if d["slave_offset_s"] > 0:
            lines.append(
                f"  slave entangler {d['slave_offset_s'] * 1e9:.0f} ns behind the master (cable "
                f"{lab.drtio.cable_ns:g} ns): node B's photons as much later"
            )
    lines += [
        gate_line(d),
        f"  photon detection probability per node  η_A = {d['eta_a']:.4f}, η_B = {d['eta_b']:.4f}",
        (
            f"  success probability per attempt        P = {d['p_success']:.3e}"
            f"  (genuine {d['p_genuine']:.3e})"
        ),
        (
            f"  attempt rate                           f = {d['attempt_rate_hz'] / 1e6:.3f} MHz,"
            f" duty cycle D = {d['duty_cycle']:.3f}"
        ),
        (
            f"    D = run/(run + per-run overhead {d['run_overhead_s'] * 1e6:.1f} µs: cooling, "
            f"slack, reads; the paper's overhead_s = {d['paper_overhead_s'] * 1e6:g} µs not used)"
        ),
        f"  loop rate, herald handling excluded    R_loop = P·f·D = {d['loop_rate_hz']:.1f} s^-1",
        (
            f"  time per herald besides the loop       T_herald = {d['herald_time_s'] * 1e6:.1f} µs"
            f"  (analysis, readout, reads, RPC, re-cooling; {d['mode']} mode)"
        ),
        (
            f"  heralded rate (lab time)               R = 1/(1/R_loop + T_herald)"
            f" = {d['rate_hz']:.1f} s^-1"
        ),
        lab_duty_line(d),
        *assumed_lines(d),
        f"  heralded-state fidelity                F = {d['fidelity_state']:.4f}",
        (
            f"  measured fidelity (with SPAM)          F = {d['fidelity_measured']:.4f}"
            f"  (SPAM ε_A = {d['spam_a']:.4f}, ε_B = {d['spam_b']:.4f})"
        ),
        p_odd_line(d),
    ]
    return "\n".join(lines + term_lines(d))
