# SPDX-License-Identifier: LGPL-3.0-or-later
"""Analytic link budget: success probability, rate and fidelity from a lab description.

Independent of the Monte Carlo: the standard closed forms of a two-photon heralded link (per-node
photon efficiency, ½η_Aη_B success probability, fidelity from mode overlap, polarisation mixing,
dark counts and decoherence, as in Stephenson et al., PRL 124, 110501, 2020), extended where
the simulated model is more specific (double excitation also raises the herald probability;
polarisation flips of both photons cancel). Per node: photon detection probability
η_X = b·η_optics·QE·g_gate, emission probabilities p1/p2 of the nominal pulse, pumped fraction p0.

- genuine heralds   P_n = ½·p1_A p1_B η_A η_B (p's include p0)
- double excitation P_2X = p2_X (p1_Y η_A η_B + ½ η_X²), state fidelity ¼
- false (dark)      P_dc = 2d(p1_A η_A + p1_B η_B) + 4d², state fidelity ¼
- genuine fidelity  F_n = F_pol (1 + M·c_phase·c_T2)/2, F_pol = (1−ε_A)(1−ε_B) + ε_Aε_B
- rates: R_loop = P·f·D (heralds per second of attempt loop, f = 1/T_cycle, D = the loop's duty
  cycle) and R = 1/(1/R_loop + T_herald) (per second of lab time), T_herald the time each herald
  costs besides the loop: analysis pulses, readout, register reads, RPC, slack margins, the next
  setting's phase writes and the cut-short run's cooling. D and T_herald come from
  ``drivers.link_timing``, the timing the experiments play (``calib.link.*`` from the lab's
  ``[loop]``, the gateware experiment's slack margin, Kasli 2.0 CPU costs); the lab's
  ``overhead_s`` is the paper's own per-run overhead, shown for comparison and not used.

The loop is the one the gateware experiment plays with its default arguments, except where
:class:`LoopArguments` says otherwise (the arguments the budget follows besides the lab's
``[loop]``: heralds per setting, parity points, slack margin; ``sim.budget_arguments`` maps an
experiment's arguments onto these and the lab's keys). The detection gate is the lab's nominal
one (each node's earliest photon arrival + ``loop.gate_start_s``, for ``loop.gate_length_s``)
unless :attr:`LoopArguments.gate_mu` gives the gate a run plays (its single-photon calibration).
The CPU-heralding experiment's loop: :mod:`sim.physics.cpu_budget` (``ionlink-sim budget LAB
--path cpu``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from drivers.analysis_settings import PARITY_POINTS, analysis_settings
from drivers.link_timing import (
    CHECK_EVERY,
    DRTIO_MARGIN_LATENCIES,
    GATEWARE_MARGIN_S,
    HERALDS_PER_SETTING,
    HeraldTiming,
    loop_datasets,
    mean_rotation,
)
from drivers.node_calibration import DEFAULT_CALIBRATION

from .excitation import pumping_probability
from .lab import Lab, Node
from .photon_modes import mode_overlap, pulse_stats
from .readout import fluorescence_rates, optimal_threshold

__all__ = [
    "Budget",
    "LoopArguments",
    "as_played",
    "as_pumped",
    "pump_window_s",
    "budget_dict",
    "dark_probabilities",
    "fidelity_fields",
    "gate_from_excitation",
    "gate_window",
    "herald_timing",
    "herald_to_rotation_s",
    "lab_duty_cycle",
    "link_datasets",
    "photon_eta",
    "predict",
    "slave_offset_s",
]


@dataclass(frozen=True)
class LoopArguments:
    """Arguments of the gateware experiment that the budget follows besides the lab's ``[loop]``
    (defaults: the experiment's). The analysis mode is :func:`predict`'s ``mode``.

    :param heralds_per_setting: heralds per analysis setting (the phase writes' share per herald).
    :param parity_points: phases of the parity scan (the mean analysis pulse in parity mode).
    :param slack_margin_s: slack re-established after each blocking read (s), before the DRTIO
        latencies a satellite node adds.
    :param gate_mu: the detection gate ``(start, stop)`` the experiment plays, in mu (ns) from
        the excitation pulse start: its ``calib.photon.gate_start_mu``/``gate_stop_mu``. None:
        the lab's nominal gate (:func:`gate_window`).
    :param check_every: entangler runs (CPU path: attempts) between pause checks.
    :param attempts_per_cool: CPU path: attempts between two coolings (0: the lab's run over
        its cycle, the CPU experiment's default).
    :param excite_time_s: the excitation's start in the attempt (s; 0: the lab's
        ``calib.link.excite_time_s``); CPU path: with the gate it sets when the reads return
        (the entangler's gate follows the excitation: the gateware figures do not depend on it).
    :param pump_start_s: the pump window's start in the cycle (s; None: the lab's,
        ``calib.link.pump_start_s``). :param pump_stop_s: its end (None: the lab's). The ion is
        pumped for stop − start, as the experiment plays them (whole ns): :func:`as_pumped`.
    """

    heralds_per_setting: int = HERALDS_PER_SETTING
    parity_points: int = PARITY_POINTS
    slack_margin_s: float = GATEWARE_MARGIN_S
    gate_mu: tuple[int, int] | None = None
    check_every: int = CHECK_EVERY
    attempts_per_cool: int = 0
    excite_time_s: float = 0.0
    pump_start_s: float | None = None
    pump_stop_s: float | None = None


DEFAULT_ARGUMENTS = LoopArguments()


@dataclass(frozen=True)
class Budget:
    """Predicted link performance. Infidelity terms are one-at-a-time contributions (1 − F)."""

    lab: str
    eta: tuple[float, float]
    p_succ: float
    p_genuine: float
    attempt_rate_hz: float
    duty_cycle: float
    loop_rate_hz: float
    herald_time_s: float
    rate_hz: float
    fidelity_state: float
    fidelity_measured: float
    terms: dict[str, float]
    spam: tuple[float, float]
    mode: str = "parity"
    #: Z-basis odd-parity population of the heralded state, and as measured (with SPAM): what a
    #: ``mode z`` run measures (its fidelity only has the bound F ≤ P_odd)
    p_odd_state: float = math.nan
    p_odd_measured: float = math.nan


def pump_window_s(lab: Lab, arguments: LoopArguments) -> tuple[float, float]:
    """The pump window ``(start, stop)`` in s from the cycle start that the experiment plays
    with ``arguments`` (each rounded to whole ns as it rounds them; the lab's
    ``calib.link.pump_start_s``/``pump_stop_s`` where not given)."""
    link = link_datasets(lab)
    start, stop = arguments.pump_start_s, arguments.pump_stop_s
    if start is None:
        start = link["calib.link.pump_start_s"]
    if stop is None:
        stop = link["calib.link.pump_stop_s"]
    return round(start * 1e9) / 1e9, round(stop * 1e9) / 1e9


def as_pumped(lab: Lab, arguments: LoopArguments) -> Lab:
    """``lab`` whose ``loop.pump_s`` is the pump window ``arguments`` give (:func:`pump_window_s`):
    the pumping each attempt has (unchanged when neither end is given).

    :raises ValueError: a window the experiment refuses: empty, or not over by the excitation
        (``arguments.excite_time_s``, else the lab's)."""
    if arguments.pump_start_s is None and arguments.pump_stop_s is None:
        return lab
    start, stop = pump_window_s(lab, arguments)
    excite = arguments.excite_time_s or link_datasets(lab)["calib.link.excite_time_s"]
    excite = (round(excite * 1e9) & ~7) * 1e-9
    if not start < stop <= excite:
        raise ValueError(
            "pump window [{:.0f}, {:.0f}) ns and excitation at {:.0f} ns: need pump_start < "
            "pump_stop <= excite_time (the experiment refuses it)".format(
                start * 1e9, stop * 1e9, excite * 1e9
            )
        )
    return replace(lab, loop=replace(lab.loop, pump_s=stop - start))


def photon_arrival_s(node: Node) -> float:
    """When ``node``'s earliest photons reach the analyser, in s from its excitation pulse start
    (``excite.delay_s`` + ``optics.photon_delay_s``); both experiments start the two nodes'
    pulses together, so the nodes' arrivals differ by the difference of these."""
    return node.excite.delay_s + node.optics.photon_delay_s


def slave_offset_s(lab: Lab) -> float:
    """How much later the slave entangler's cycles start than the master's, in s: the delay of
    their link cable (``[drtio] cable_ns``) in whole 8 ns clocks, as the simulator pairs them
    (``sim.topology``, ``sim.rtio.phy.entangler_pair``). Node B's pump and excitation are the
    slave's outputs on two chassis, so its photons come that much later."""
    return 8 * (max(int(round(lab.drtio.cable_ns)), 0) // 8) * 1e-9


def as_played(lab: Lab, two_chassis: bool) -> Lab:
    """``lab`` as the gateware loop plays it: on two chassis node B's excitation
    :func:`slave_offset_s` later (its photons' arrival, the gate and the mode overlap follow);
    ``lab`` itself on one chassis or a cable shorter than a clock."""
    offset = slave_offset_s(lab) if two_chassis else 0.0
    if offset == 0:
        return lab
    b = lab.node("b")
    late = replace(b, excite=replace(b.excite, delay_s=b.excite.delay_s + offset))
    first, second = lab.nodes
    return replace(lab, nodes=(first, late) if second is b else (late, second))


def gate_window(
    lab: Lab, node: Node, gate_mu: tuple[int, int] | None = None
) -> tuple[float, float]:
    """The detection gate ``(start, stop)`` in s from ``node``'s earliest photon arrival
    (:func:`photon_arrival_s`): ``gate_mu`` (mu = ns from the excitation pulse start, as the
    gateware plays it) or, if None, the lab's nominal gate, ``loop.gate_start_s`` after node
    A's earliest arrival for ``loop.gate_length_s`` (as ``nominal_cycle`` places it)."""
    arrival = photon_arrival_s(node)
    if gate_mu is None:
        lp = lab.loop
        offset = photon_arrival_s(lab.nodes[0]) - arrival  # (0 where the arrivals agree)
        return lp.gate_start_s + offset, lp.gate_start_s + lp.gate_length_s + offset
    return gate_mu[0] * 1e-9 - arrival, gate_mu[1] * 1e-9 - arrival


def gate_from_excitation(
    lab: Lab, node: Node, gate_mu: tuple[int, int] | None = None
) -> tuple[float, float]:
    """:func:`gate_window` in s from ``node``'s excitation pulse start, the convention of
    ``calib.photon.gate_start_mu``/``gate_stop_mu`` and ``--detection-gate`` (``gate_mu`` itself
    when given)."""
    start, stop = gate_window(lab, node, gate_mu)
    arrival = photon_arrival_s(node)
    return start + arrival, stop + arrival


def _uncorrected_phase_coherence(lab: Lab, omega: float, gate_mu: tuple[int, int] | None) -> float:
    """|E e^{iω(t_A − t_B)}| of the two heralding photons' emission times, each conditioned on
    falling in the detection gate (:func:`gate_window`): the coherence a detection-time phase
    left uncorrected keeps (z and tomography modes; for an ungated exponential 1/(1 + ω²τ²))."""
    out = 1.0
    for node in lab.nodes:
        stats = pulse_stats(node, 0, round(node.excite.pulse_length_s / 1e-9))
        mean = stats.gated_phase_mean(*gate_window(lab, node, gate_mu), omega)
        out *= abs(mean)
    return out


def photon_eta(
    lab: Lab, node: Node, gate_mu: tuple[int, int] | None
) -> tuple[float, float, float, float]:
    """(η per photon, p1, p2, p0) of one node for the nominal loop and the gate
    :func:`gate_window`."""
    lp = lab.loop
    stats = pulse_stats(node, 0, round(node.excite.pulse_length_s / 1e-9))
    qe = sum(d.efficiency for d in lab.bsa.detectors) / 4
    jit = sum(d.jitter_s for d in lab.bsa.detectors) / 4
    g = stats.gate_probability(*gate_window(lab, node, gate_mu), 0.0, jit)
    eta = node.species.branching_ratio * node.optics.efficiency * qe * g
    r = pumping_probability(lp.pump_s, node.pumping_time_s)
    keep = 1 - 0.5 * stats.p_emit
    p0 = r / (1 - (1 - r) * keep) if r > 0 else 0.0
    return eta, p0 * (stats.p_emit - stats.p_double), p0 * stats.p_double, p0


def dark_probabilities(lab: Lab, gate_mu: tuple[int, int] | None = None) -> list[float]:
    """Probability of a dark count in each detector's gate (det0..det3; the gate of
    :func:`gate_window`)."""
    start, stop = gate_window(lab, lab.nodes[0], gate_mu)
    return [-math.expm1(-x.dark_rate_hz * (stop - start)) for x in lab.bsa.detectors]


def _coherence_t2(node: Node, t: float) -> float:
    if node.dephasing == "exponential":
        return math.exp(-t / node.t2_s)
    return math.exp(-((t / node.t2_s) ** 2))


def _spam(node: Node) -> float:
    """Readout (Poisson overlap at the optimal threshold) + preparation error of one ion."""
    b, d = fluorescence_rates(node.readout, node.motion, node.motion.doppler_n)
    t = node.readout.duration_s
    _, err = optimal_threshold(b * t, d * t)
    return err + node.readout.prep_error


def link_datasets(lab: Lab) -> dict:
    """The ``calib.link.*`` datasets (s) a session stores for ``lab``'s ``[loop]``
    (:func:`drivers.link_timing.loop_datasets`; detection: the longer node's)."""
    return loop_datasets(
        lab.loop.cycle_s,
        lab.loop.run_s,
        lab.loop.cool_s,
        lab.loop.pump_s,
        lab.loop.gate_start_s,
        lab.loop.gate_length_s,
        max(n.readout.duration_s for n in lab.nodes),
    )


def herald_timing(
    lab: Lab,
    mode: str = "parity",
    two_chassis: bool = False,
    arguments: LoopArguments = DEFAULT_ARGUMENTS,
) -> HeraldTiming:
    """The loop the gateware experiment plays at ``lab`` with its default arguments but
    ``arguments`` (analysis ``mode``): ``calib.link.*`` of the lab, the slack margin (3 µs by
    default), the qubit drive's π time at the default amplitude. ``two_chassis``: node B on a
    DRTIO satellite (``device_db_drtio.py``): the margin includes three link latencies of the
    lab's ``[drtio]``, every run reads the slave entangler's answer (a round trip) and node B's
    PMT counts are read over the link (one round trip per count and one for the read that times
    out; ½(bright + dark) counts on average, each ion of a Bell state being bright half of the
    time)."""
    link = link_datasets(lab)
    amp = DEFAULT_CALIBRATION["qubit.amplitude"]
    mu_per_rad = max(1e9 / (2 * n.qubit.rabi_frequency_hz * amp) / math.pi for n in lab.nodes)
    s = analysis_settings(mode, arguments.parity_points)
    link_mu = round(lab.drtio.latency_s * 1e9) if two_chassis else 0
    reads = 0.0
    if two_chassis:
        node_b = lab.node("b")
        bright, dark = fluorescence_rates(node_b.readout, node_b.motion, node_b.motion.doppler_n)
        reads = 1.0 + 0.5 * (bright + dark) * link["calib.link.detect_s"]
    return HeraldTiming(
        cycle_mu=round(link["calib.link.cycle_s"] * 1e9) & ~7,
        run_mu=round(link["calib.link.run_s"] * 1e9),
        cool_mu=round(link["calib.link.cool_s"] * 1e9),
        margin_mu=round(arguments.slack_margin_s * 1e9) + DRTIO_MARGIN_LATENCIES * link_mu,
        detect_mu=round(link["calib.link.detect_s"] * 1e9),
        rotation_mu=mean_rotation(s["theta_a"], s["theta_b"]) * mu_per_rad,
        link_mu=link_mu,
        satellite_reads=reads,
        heralds_per_setting=arguments.heralds_per_setting,
        check_every=arguments.check_every,
    )


def herald_to_rotation_s(lab: Lab, two_chassis: bool = False) -> float:
    """Herald → analysis pulses (s): the lab's ``herald_to_rotation_s``; with node B on a
    satellite the slave's answer (a round trip) and the margin's latencies more."""
    n = 2 + DRTIO_MARGIN_LATENCIES
    extra = n * round(lab.drtio.latency_s * 1e9) * 1e-9 if two_chassis else 0.0
    return lab.loop.herald_to_rotation_s + extra


def predict(
    lab: Lab,
    mode: str = "parity",
    two_chassis: bool = False,
    arguments: LoopArguments = DEFAULT_ARGUMENTS,
) -> Budget:
    """Analytic prediction for ``lab``'s nominal loop (``[loop]``), played by the gateware
    experiment in analysis ``mode`` with ``arguments``, on one chassis or (``two_chassis``) with
    node B on a DRTIO satellite (:func:`herald_timing`, :func:`herald_to_rotation_s`; node B's
    pulses as the slave entangler plays them, :func:`as_played`; the pump window of
    ``arguments``, :func:`as_pumped`)."""
    lab = as_pumped(as_played(lab, two_chassis), arguments)
    a, b = lab.nodes
    lp = lab.loop
    gate = arguments.gate_mu
    (eta_a, p1a, p2a, _), (eta_b, p1b, p2b, _) = (
        photon_eta(lab, a, gate),
        photon_eta(lab, b, gate),
    )
    n_run = tuple(n.motion.doppler_n for n in lab.nodes)
    # the photons' time offset (the nodes' arrivals differ: e^(−|Δt|/τ), as the cycle law)
    dt = photon_arrival_s(a) - photon_arrival_s(b)
    m = mode_overlap(lab, dt, n_run)  # type: ignore[arg-type]
    d = sum(dark_probabilities(lab, gate)) / 4
    p_n = 0.5 * p1a * p1b * eta_a * eta_b
    p_2 = p2a * (p1b * eta_a * eta_b + 0.5 * eta_a**2) + p2b * (
        p1a * eta_a * eta_b + 0.5 * eta_b**2
    )
    p_dc = 2 * d * (p1a * eta_a + p1b * eta_b) + 4 * d * d
    p = p_n + p_2 + p_dc
    ea, eb = a.optics.polarisation_mixing, b.optics.polarisation_mixing
    f_pol = (1 - ea) * (1 - eb) + ea * eb
    wq = 0.5 * (a.omega_q + b.omega_q)
    if lp.phase_correction and mode == "parity":
        # the analysis corrects ω_q(t_A − t_B) from the timestamps (parity mode only): what is
        # left is the detectors' jitter and the 1 ns timestamps' rounding
        var = sum(x.jitter_s**2 for x in lab.bsa.detectors) / 2 + 2 * (1e-9) ** 2 / 12
        c_phase = math.exp(-0.5 * wq * wq * var)
    else:
        c_phase = _uncorrected_phase_coherence(lab, wq, gate)
    wait = herald_to_rotation_s(lab, two_chassis)
    c_t2 = _coherence_t2(a, wait) * _coherence_t2(b, wait)
    f_n = f_pol * (1 + m * c_phase * c_t2) / 2
    f_state = (p_n * f_n + 0.25 * (p_2 + p_dc)) / p
    sa, sb = _spam(a), _spam(b)
    # SPAM (derived here: each readout flips its bit with probability ε, so the parity flips with
    # q = ε_A(1−ε_B) + ε_B(1−ε_A)): P_odd' = P_odd(1−q) + q(1−P_odd),
    # C' = C(1−2ε_A)(1−2ε_B), F = ½(P_odd + C)
    p_odd = (p_n * f_pol + 0.5 * (p_2 + p_dc)) / p
    c = 2 * f_state - p_odd
    q = sa * (1 - sb) + sb * (1 - sa)
    p_odd_meas = p_odd * (1 - q) + q * (1 - p_odd)
    f_meas = 0.5 * (p_odd_meas + c * (1 - 2 * sa) * (1 - 2 * sb))
    terms = {
        "mode overlap (1-M)/2": (1 - m) / 2,
        "polarisation mixing": 1 - f_pol,
        "detection-time phase": (1 - c_phase) / 2,
        "decoherence (T2)": (1 - c_t2) / 2,
        "double excitation": 0.75 * p_2 / p,
        "dark counts": 0.75 * p_dc / p,
        "SPAM (measured only)": f_state - f_meas,
    }
    timing = herald_timing(lab, mode, two_chassis, arguments)
    return Budget(
        lab.name,
        (eta_a, eta_b),
        p,
        p_n,
        1e9 / timing.cycle_mu,
        timing.duty_cycle,
        timing.loop_rate_hz(p),
        timing.herald_s(p),
        timing.rate_hz(p),
        f_state,
        f_meas,
        terms,
        (sa, sb),
        mode,
        p_odd,
        p_odd_meas,
    )


def budget_dict(
    lab: Lab,
    mode: str = "parity",
    two_chassis: bool = False,
    arguments: LoopArguments = DEFAULT_ARGUMENTS,
) -> dict:
    """Every figure :func:`~.budget_lines.format_budget` prints, for scripts (``ionlink-sim budget
    --json``); ``arguments``: the experiment's arguments the budget follows
    (:class:`LoopArguments`)."""
    bd = predict(lab, mode, two_chassis, arguments)
    t = herald_timing(lab, mode, two_chassis, arguments)
    gate = gate_window(lab, lab.nodes[0], arguments.gate_mu)
    link = {k.removeprefix("calib.link."): v for k, v in link_datasets(lab).items()}
    return {
        "lab": bd.lab,
        "mode": bd.mode,
        "two_chassis": two_chassis,
        "drtio_latency_s": t.link_mu * 1e-9,
        "slave_offset_s": slave_offset_s(lab) if two_chassis else 0.0,
        "herald_to_rotation_s": herald_to_rotation_s(lab, two_chassis),
        "gate_s": list(gate),
        "gate_excitation_s": list(gate_from_excitation(lab, lab.nodes[0], arguments.gate_mu)),
        "gate_calibrated": arguments.gate_mu is not None,
        "eta_a": bd.eta[0],
        "eta_b": bd.eta[1],
        "p_success": bd.p_succ,
        "p_genuine": bd.p_genuine,
        "attempt_rate_hz": bd.attempt_rate_hz,
        "duty_cycle": bd.duty_cycle,
        "run_overhead_s": t.run_overhead_mu * 1e-9,
        "paper_overhead_s": lab.loop.overhead_s,
        "loop_rate_hz": bd.loop_rate_hz,
        "herald_time_s": bd.herald_time_s,
        "rate_hz": bd.rate_hz,
        "lab_duty_cycle": lab_duty_cycle(1 / bd.attempt_rate_hz, bd.rate_hz, bd.p_succ),
        "slack_margin_s": arguments.slack_margin_s,
        "check_every": arguments.check_every,
        "pulses_s": [
            *pump_window_s(lab, arguments),
            (round((arguments.excite_time_s or link["excite_time_s"]) * 1e9) & ~7) * 1e-9,
        ],
        "readout_s": [n.readout.duration_s for n in lab.nodes],
        **fidelity_fields(bd),
    }


def lab_duty_cycle(cycle_s: float, rate_hz: float, p_success: float) -> float:
    """The attempt cycles' share of lab time, which a run records as ``totals.duty_cycle``
    (attempts × cycle length / lab time): ``cycle_s`` · R / P, attempts per herald 1/P and lab
    time per herald 1/R. Unlike the loop's duty cycle D it counts the heralds' handling, and on
    the CPU path the reads and margin of each attempt, as time not spent in cycles."""
    return cycle_s * rate_hz / p_success if p_success > 0 else 0.0


def fidelity_fields(bd: Budget) -> dict:
    """The fidelity figures of a budget dict (both heralding paths'): state, measured (with
    SPAM), each ion's SPAM error and the infidelity terms."""
    return {
        "fidelity_state": bd.fidelity_state,
        "fidelity_measured": bd.fidelity_measured,
        "spam_a": bd.spam[0],
        "spam_b": bd.spam[1],
        "p_odd_state": bd.p_odd_state,
        "p_odd_measured": bd.p_odd_measured,
        "terms": dict(bd.terms),
    }
