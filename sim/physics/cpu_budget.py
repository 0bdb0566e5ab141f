# SPDX-License-Identifier: LGPL-3.0-or-later
"""The link budget of the CPU-heralding path (``repository/remote_entanglement_cpu.py``):
``ionlink-sim budget LAB --path cpu``.

Same physics per attempt as the gateware path (:mod:`sim.physics.budget`): both experiments
play the lab's pump window and excitation time (``calib.link.*``), open the gates on the
single-photon calibration's window (``calib.photon.gate_*``) and analyse and read out alike, so
P is the gateware budget's and F has the same terms, with one difference: the herald → analysis
time is the CPU loop's own (the rest of the heralding attempt: gate latency, reads, slack
margin; :attr:`~drivers.cpu_link_timing.CpuHeraldTiming.rotation_wait_s`), not the lab's
``loop.herald_to_rotation_s``. (The gateware drives both excitation outputs for the longer
node's pulse, the CPU trace each node for its own; the budget takes each node's own, so the two
agree whenever the nodes' pulses are equally long, as in every preset.) The longer attempt
period lets the ions heat more between coolings (at ``oxford2020`` ≈ 0.03 quanta more, a change
of the mode overlap below 10⁻⁸); the budget ignores heating on both paths.

The rate differs: the attempt period is set by the CPU's reads (:mod:`drivers.cpu_link_timing`),
re-cooling comes every ``attempts_per_cool`` attempts (the lab's ``run_s`` over its cycle), each
click costs about an input read (dark counts and photons: each detector's click probability in
the gate), and a herald costs its handling and a new block. With node B on a DRTIO satellite
(``device_db_drtio.py``) the slack margin holds three link latencies and node B's PMT reads
cross the link (:func:`cpu_herald_timing`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from drivers.cpu_link_timing import CPU_MARGIN_S, CpuHeraldTiming
from drivers.link_timing import DRTIO_MARGIN_LATENCIES
from sim.lab_datasets import calibration_datasets

from .budget import (
    Budget,
    LoopArguments,
    dark_probabilities,
    fidelity_fields,
    gate_from_excitation,
    gate_window,
    herald_timing,
    herald_to_rotation_s,
    lab_duty_cycle,
    link_datasets,
    photon_eta,
    predict,
)
from .budget_lines import gate_line, lab_duty_line, p_odd_line, term_lines
from .lab import Lab
from .readout import fluorescence_rates

__all__ = [
    "CPU_ARGUMENTS",
    "CpuBudget",
    "click_probabilities",
    "cpu_budget_dict",
    "cpu_herald_timing",
    "format_cpu_budget",
    "predict_cpu",
]

#: The CPU experiment's default arguments the budget follows (its slack margin: 1.8 µs).
CPU_ARGUMENTS = LoopArguments(slack_margin_s=CPU_MARGIN_S)

_REF_PERIOD_S = 1e-9


@dataclass(frozen=True)
class CpuBudget:
    """Predicted performance of the CPU-heralding loop.

    :param link: P and F (:class:`~sim.physics.budget.Budget`, with the CPU loop's herald →
        analysis time); its rate fields are the gateware loop's, for comparison.
    :param timing: the CPU loop's timeline (with each detector's click probability).
    """

    link: Budget
    timing: CpuHeraldTiming

    @property
    def attempt_rate_hz(self) -> float:
        """f = 1/T_attempt (s⁻¹)."""
        return 1e9 / self.timing.attempt_mu

    @property
    def loop_rate_hz(self) -> float:
        """R_loop = P·f·D (s⁻¹)."""
        return self.timing.loop_rate_hz(self.link.p_succ)

    @property
    def herald_time_s(self) -> float:
        """T_herald (s)."""
        return self.timing.herald_s(self.link.p_succ)

    @property
    def rate_hz(self) -> float:
        """R = 1/(1/R_loop + T_herald) (s⁻¹), per second of lab time."""
        return self.timing.rate_hz(self.link.p_succ)


def click_probabilities(
    lab: Lab, gate_mu: tuple[int, int] | None = None
) -> tuple[float, float, float, float]:
    """Probability per attempt that each detector clicks in its gate: its dark count, and a
    quarter of the photons both nodes emit (η, p1 and p2 of the budget; a double excitation
    emits two) scaled by its efficiency over the four detectors' mean."""
    photons = 0.0
    for node in lab.nodes:
        eta, p1, p2, _ = photon_eta(lab, node, gate_mu)
        photons += eta * (p1 + 2 * p2)
    qe = [d.efficiency for d in lab.bsa.detectors]
    mean_qe = sum(qe) / 4
    scale = [q / mean_qe if mean_qe > 0 else 0.0 for q in qe]
    dark = dark_probabilities(lab, gate_mu)
    c0, c1, c2, c3 = (dark[i] + 0.25 * photons * scale[i] for i in range(4))
    return c0, c1, c2, c3


def cpu_herald_timing(
    lab: Lab,
    mode: str = "parity",
    arguments: LoopArguments = CPU_ARGUMENTS,
    two_chassis: bool = False,
) -> CpuHeraldTiming:
    """The loop the CPU experiment plays at ``lab`` with its default arguments but
    ``arguments`` (analysis ``mode``): the lab's ``calib.link.*`` (cycle, run,
    cooling, excitation time), the gate ``arguments.gate_mu`` or the nominal one
    (:func:`sim.lab_datasets.calibration_datasets`), the pause checks and coolings of
    ``arguments.check_every`` and ``attempts_per_cool`` (0: run over cycle, as the experiment),
    the excitation at ``arguments.excite_time_s`` (0: the lab's),
    the margin and the cooling rounded down to mu as the experiment converts them.
    ``two_chassis``: node B on a DRTIO satellite (``device_db_drtio.py``): the margin holds
    :data:`~drivers.link_timing.DRTIO_MARGIN_LATENCIES` one-way latencies of the lab's
    ``[drtio]`` (``drivers.link_timing.drtio_margin_mu``, rounded down to mu as the experiment
    converts ``calib.link.drtio_latency_s``), and node B's PMT reads cross the link."""
    link = link_datasets(lab)
    link_mu = int(lab.drtio.latency_s // _REF_PERIOD_S) if two_chassis else 0
    cycle_mu = round(link["calib.link.cycle_s"] / _REF_PERIOD_S)
    run_mu = round(link["calib.link.run_s"] / _REF_PERIOD_S)
    excite_mu = round((arguments.excite_time_s or link["calib.link.excite_time_s"]) / _REF_PERIOD_S)
    gate_start, gate_stop = arguments.gate_mu or _nominal_gate(lab)
    base = replace(
        herald_timing(lab, mode, False, arguments),
        cycle_mu=cycle_mu,
        cool_mu=int(link["calib.link.cool_s"] // _REF_PERIOD_S),
        margin_mu=int(arguments.slack_margin_s // _REF_PERIOD_S) + DRTIO_MARGIN_LATENCIES * link_mu,
        link_mu=link_mu,
    )
    node_b = lab.node("b")
    bright, dark = fluorescence_rates(node_b.readout, node_b.motion, node_b.motion.doppler_n)
    return CpuHeraldTiming(
        loop=base,
        gate_end_mu=excite_mu + gate_stop,
        gate_length_mu=gate_stop - gate_start,
        attempts_per_cool=arguments.attempts_per_cool or max(1, math.ceil(run_mu / cycle_mu)),
        check_every=arguments.check_every,
        clicks=click_probabilities(lab, arguments.gate_mu),
        readout_counts_b=0.5 * (bright + dark) * node_b.readout.duration_s,
    )


def _nominal_gate(lab: Lab) -> tuple[int, int]:
    """The lab's nominal gate in mu from the excitation
    (:func:`sim.lab_datasets.calibration_datasets`)."""
    cal = calibration_datasets(lab)
    return int(cal["calib.photon.gate_start_mu"]), int(cal["calib.photon.gate_stop_mu"])


def predict_cpu(
    lab: Lab,
    mode: str = "parity",
    arguments: LoopArguments = CPU_ARGUMENTS,
    two_chassis: bool = False,
) -> CpuBudget:
    """Analytic prediction for ``lab``'s nominal loop played by the CPU experiment in analysis
    ``mode`` with ``arguments``, on one chassis or (``two_chassis``) with node B on a DRTIO
    satellite: P and F as the gateware path's on one chassis (:func:`predict`; the satellite's
    TTLs play node B's trace at its timestamps, no slave entangler in between) with the CPU
    loop's herald → analysis time, the rate from :func:`cpu_herald_timing`."""
    timing = cpu_herald_timing(lab, mode, arguments, two_chassis)
    own = replace(lab, loop=replace(lab.loop, herald_to_rotation_s=timing.rotation_wait_s))
    return CpuBudget(predict(own, mode, False, arguments), timing)


def cpu_budget_dict(
    lab: Lab,
    mode: str = "parity",
    arguments: LoopArguments = CPU_ARGUMENTS,
    two_chassis: bool = False,
) -> dict:
    """Every figure :func:`format_cpu_budget` prints, for scripts (``--path cpu --json``); the
    gateware loop's rate and herald → analysis time beside them for comparison (on the same
    chassis: ``two_chassis`` as :func:`predict_cpu`)."""
    b = predict_cpu(lab, mode, arguments, two_chassis)
    t, link = b.timing, b.link
    gateware = predict(
        lab,
        mode,
        two_chassis,
        LoopArguments(
            gate_mu=arguments.gate_mu,
            pump_start_s=arguments.pump_start_s,
            pump_stop_s=arguments.pump_stop_s,
        ),
    )
    return {
        "lab": link.lab,
        "mode": link.mode,
        "path": "cpu",
        "two_chassis": two_chassis,
        "drtio_latency_s": t.loop.link_mu * 1e-9,
        "gate_s": list(gate_window(lab, lab.nodes[0], arguments.gate_mu)),
        "gate_excitation_s": list(gate_from_excitation(lab, lab.nodes[0], arguments.gate_mu)),
        "gate_calibrated": arguments.gate_mu is not None,
        "eta_a": link.eta[0],
        "eta_b": link.eta[1],
        "p_success": link.p_succ,
        "p_genuine": link.p_genuine,
        "clicks_per_attempt": list(t.clicks),
        "attempt_period_s": t.attempt_mu * 1e-9,
        "attempt_rate_hz": b.attempt_rate_hz,
        "attempts_per_cool": t.attempts_per_cool,
        "slack_margin_s": t.loop.margin_mu * 1e-9,
        "check_every": t.check_every,
        "gate_end_s": t.gate_end_mu * 1e-9,
        "loop_time_per_attempt_s": t.loop_attempt_mu * 1e-9,
        "duty_cycle": t.duty_cycle,
        "loop_rate_hz": b.loop_rate_hz,
        "herald_handling_s": t.herald_handling_mu * 1e-9,
        "herald_time_s": b.herald_time_s,
        "rate_hz": b.rate_hz,
        "lab_duty_cycle": lab_duty_cycle(t.loop.cycle_mu * 1e-9, b.rate_hz, link.p_succ),
        "herald_to_rotation_s": t.rotation_wait_s,
        **fidelity_fields(link),
        "gateware": {
            "attempt_rate_hz": gateware.attempt_rate_hz,
            "loop_rate_hz": gateware.loop_rate_hz,
            "rate_hz": gateware.rate_hz,
            "herald_to_rotation_s": herald_to_rotation_s(lab, two_chassis),
            "fidelity_measured": gateware.fidelity_measured,
        },
    }


def format_cpu_budget(
    lab: Lab,
    mode: str = "parity",
    arguments: LoopArguments = CPU_ARGUMENTS,
    two_chassis: bool = False,
) -> str:
    """Human-readable CPU-path budget for ``ionlink-sim budget LAB --path cpu`` (``arguments``,
    ``two_chassis``: as :func:`cpu_budget_dict`)."""
    d = cpu_budget_dict(lab, mode, arguments, two_chassis)
    g = d["gateware"]
    c = d["clicks_per_attempt"]
    lines = [
        f"lab {d['lab']}: {lab.description}".rstrip(": "),
        (
            "  CPU heralding (repository/remote_entanglement_cpu.py; slack margin "
            f"{d['slack_margin_s'] * 1e6:.2f} µs, Kasli 2.0 CPU costs)"
        ),
        "  P and F: the gateware path's physics (same pump, excitation, gate window, analysis,",
        (
            "    readout); herald → analysis pulses "
            f"{d['herald_to_rotation_s'] * 1e6:.1f} µs (the CPU's reads and margin) instead of "
            f"the lab's {g['herald_to_rotation_s'] * 1e6:.1f} µs"
        ),
        *(
            [
                f"  two chassis: node B on a DRTIO satellite, fibre {lab.drtio.fibre_m:g} m, "
                f"latency {d['drtio_latency_s'] * 1e6:.3f} µs one way (3 in the slack margin; "
                "a round trip per PMT read of node B)"
            ]
            if two_chassis
            else []
        ),
        gate_line(d),
        f"  photon detection probability per node  η_A = {d['eta_a']:.4f}, η_B = {d['eta_b']:.4f}",
        (
            f"  success probability per attempt        P = {d['p_success']:.3e}"
            f"  (genuine {d['p_genuine']:.3e})"
        ),
        (
            f"  attempt period (CPU reads + margin)    T = {d['attempt_period_s'] * 1e6:.3f} µs,"
            f" f = {d['attempt_rate_hz'] / 1e6:.3f} MHz (gateware {g['attempt_rate_hz'] / 1e6:.3f})"
        ),
        (
            f"    clicks per attempt (det0..3)         {c[0]:.2e} {c[1]:.2e} {c[2]:.2e} {c[3]:.2e}"
            f"; re-cooling every {d['attempts_per_cool']} attempts, pause check every "
            f"{d['check_every']}"
        ),
        (
            f"    reads wait for the gate's end at {d['gate_end_s'] * 1e9:.0f} ns (the run's "
            "excite_time: --excite-time; --set loop.pump_s moves the lab's, so give both)"
        ),
        (
            "  loop time per attempt                  "
            f"{d['loop_time_per_attempt_s'] * 1e6:.3f} µs, duty cycle D = {d['duty_cycle']:.3f}"
        ),
        (
            f"  loop rate, herald handling excluded    R_loop = P·f·D = {d['loop_rate_hz']:.1f}"
            f" s^-1  (gateware {g['loop_rate_hz']:.1f})"
        ),
        (
            f"  time per herald besides the loop       T_herald = {d['herald_time_s'] * 1e6:.1f} µs"
            f"  (handling {d['herald_handling_s'] * 1e6:.1f} µs; {d['mode']} mode)"
        ),
        (
            f"  heralded rate (lab time)               R = 1/(1/R_loop + T_herald)"
            f" = {d['rate_hz']:.1f} s^-1  (gateware {g['rate_hz']:.1f})"
        ),
        lab_duty_line(d),
        f"  heralded-state fidelity                F = {d['fidelity_state']:.4f}",
        (
            f"  measured fidelity (with SPAM)          F = {d['fidelity_measured']:.4f}"
            f"  (gateware {g['fidelity_measured']:.4f})"
        ),
        p_odd_line(d),
    ]
    return "\n".join(lines + term_lines(d))
