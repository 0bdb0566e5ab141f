# SPDX-License-Identifier: LGPL-3.0-or-later
"""Timing of the entanglement loop: where it comes from, and what a herald costs.

One place for the loop timing that the experiments play and the budget predicts
(``sim.physics.budget``), so that the two cannot silently differ.

Where the experiments take their timing from: their arguments, whose defaults (:func:`link_default`,
read in ``build``) are the persistent datasets ``calib.link.<name>`` (the lab's design of the loop;
the simulator stores them from the lab description's ``[loop]`` table at the start of each session,
see :func:`loop_datasets`); without that dataset the fallback of :data:`FALLBACK` (the oxford2020
loop) applies. An argument given explicitly overrides its dataset.

What a herald costs (:class:`HeraldTiming`): the gateware loop runs ``run_s`` (rounded up to whole
cycles), re-cools for ``cool_s`` and re-establishes its slack after each run; after a herald it
plays the analysis pulses, reads both ions out, reads the entangler's registers, queues one RPC and
re-establishes its slack several times; when the analysis setting changes (every
``heralds_per_setting`` heralds) it programs both qubit drives' phases. The CPU costs of those
reads, writes and RPCs are the Kasli 2.0 figures of the simulator's cost table, measured once in
the simulator (``tests/experiments/test_presets.py`` checks the model against the simulated loop).
"""

import math
from dataclasses import dataclass

__all__ = [
    "FALLBACK",
    "GATEWARE_MARGIN_S",
    "DRTIO_LATENCY_FALLBACK_S",
    "DRTIO_MARGIN_LATENCIES",
    "satellite_latency_s",
    "drtio_margin_mu",
    "MIN_SLACK_MARGIN_S",
    "LINK_KEYS",
    "HERALDS_PER_SETTING",
    "HeraldTiming",
    "loop_datasets",
    "link_default",
    "nearest_mu",
    "expected_p_success",
    "herald_timeout_attempts",
    "mean_rotation",
    "CYCLE_MIN_MU",
    "CYCLE_MAX_MU",
    "RUN_MAX_CYCLES",
    "CHECK_EVERY",
    "RPC_MU",
    "BREAK_REALTIME_MU",
]

#: ``calib.link.<name>`` datasets the entanglement experiments read (s).
LINK_KEYS = (
    "cycle_s",
    "run_s",
    "cool_s",
    "pump_start_s",
    "pump_stop_s",
    "excite_time_s",
    "gate_start_s",
    "gate_length_s",
    "detect_s",
)

#: Slack margin the gateware loop re-establishes after each blocking read (s).
GATEWARE_MARGIN_S = 3e-6
#: Entangler runs (gateware loop) or attempts (CPU loop) between pause checks: the experiments'
#: default ``check_every``.
CHECK_EVERY = 500
#: A synchronous RPC's round trip on Kasli 2.0 (the pause check's ``should_stop``), mu.
RPC_MU = 40_000
#: ARTIQ's ``Core.break_realtime``: the cursor to at least the RTIO counter + this, mu.
BREAK_REALTIME_MU = 125_000
#: One-way DRTIO latency to a satellite node when ``calib.link.drtio_latency_s`` does not exist
#: (s; ≈ 290 ns for metres of fibre).
DRTIO_LATENCY_FALLBACK_S = 300e-9
#: Link latencies added to the slack margin when a node is on a satellite: one for the outputs'
#: way there, two for a buffer-space round trip of the master that may stall a write.
DRTIO_MARGIN_LATENCIES = 3
#: Smallest ``slack_margin`` (s) per heralding path ("gateware", "cpu"), to 0.1 µs below: under
#: it the kernels' mean CPU costs (Kasli 2.0) exceed the margin at a line it sets (gateware: the
#: cooling DMA, the analysis pulses and register reads after a herald; cpu: the attempt's DMA
#: playback), so that line underflows in every pass (up to the next 0.1 µs the counter's 8 mu
#: phase decides: some passes do). Found with ``ionlink-sim slack`` (docs/experiments.md,
#: "Margins"; tests/experiments/test_margins.py re-derives the gateware one); ``prepare``
#: refuses a smaller margin.
MIN_SLACK_MARGIN_S = {"gateware": 1.4e-6, "cpu": 1.6e-6}
#: Heralds per analysis setting, the entanglement experiments' default ``heralds_per_setting``.
HERALDS_PER_SETTING = 200
#: Readout detection time when ``calib.link.detect_s`` does not exist (s).
DETECT_FALLBACK_S = 300e-6

#: Fallbacks when a ``calib.link.*`` dataset does not exist (the oxford2020 loop, s). A gate
#: length of 0 means "``gate_taus`` lifetimes" (single-photon calibration).
FALLBACK = {
    "cycle_s": 1.05e-6,
    "run_s": 200e-6,
    "cool_s": 20e-6,
    "pump_start_s": 30e-9,
    "pump_stop_s": 500e-9,
    "excite_time_s": 584e-9,
    "gate_start_s": 0.0,
    "gate_length_s": 0.0,
    "detect_s": DETECT_FALLBACK_S,
}

#: The pump pulse starts this long after the cycle start (s).
PUMP_START_S = 30e-9
#: Guard between the pump pulse's end and the excitation pulse (s; then rounded up to 8 ns).
PUMP_TO_EXCITE_S = 80e-9

#: The entangler's attempt cycle (mu, 8 ns steps): its TCYCLE register holds 10 bits of coarse
#: cycles, and a cycle must hold the pump, the excitation and the gate.
CYCLE_MIN_MU = 96
CYCLE_MAX_MU = 8176
#: A run is whole cycles, fewer than this many (the gateware's 14-bit cycle counter).
RUN_MAX_CYCLES = 16383

#: Attempts without a herald before giving up when no success probability is known.
UNKNOWN_P_ATTEMPTS = 10_000_000
#: Expected heralds after which a link that has not heralded is declared dead (50/P attempts).
DEAD_LINK_HERALDS = 50.0

# CPU and latency costs (mu) of the loop beyond the slack margins, measured in the simulator with
# the Kasli 2.0 cost profile (sim/rtio/costs.py; tests/experiments/test_presets.py keeps them
# honest): the gap after a run (the run end's input read, the counter read); the herald
# handling's blocking reads (two PMT counts, three entangler registers), counter reads and the
# async RPC; per setting change the two DDS phase writes (2 x 1256 mu of timeline; the CPU time
# of their SPI transfers and the resync after them set the cost). _PHASES_MU was re-measured on
# 2026-11-30 when the gateware experiment stopped writing the phases before every herald: the
# lab time of seeded Z runs (101 heralds, seed 11, one chassis) fell by 378 400 mu for the 100
# writes saved, the same at oxford2020, duke2024 and target_99_1khz, every draw unchanged.
_RUN_GAP_MU = 87
# the gap after the heralding run that the herald handling's reads include (the timeline after a
# timed-out run was re-measured on 2026-12-01, seeded Z runs of 300 heralds at target_99_1khz,
# duke2024 and oxford2020 without pause checks: 277 mu a run less than these 364, the same at
# each lab; the handling's own figure was right)
_HERALD_GAP_MU = 364
_HERALD_READS_MU = 5_300
_HERALD_MARGINS = 5  # slack margins the herald handling re-establishes
_PHASES_MU = 3_784
# Two chassis (drivers.entangler_pair): per run the slave's CONFIG and RUN writes (2 coarse
# cycles) and the read of the slave's answer (one input read's CPU time; its round trip is
# counted apart).
_SLAVE_RUN_MU = 16 + 240
# Writes to the satellite per setting change: node B's phase (6 SPI events, the IO_UPDATE pulse's
# 2) (counted in the simulator, device_db_drtio.py at oxford2020). The master refreshes its copy
# of the satellite's buffer space (a round trip) about once per _SPACE_PER_REFRESH writes (128
# entries, a few still pending); the resync after the phase writes pays it. The runs' and the
# heralds' writes (node B's cooling, the slave's CONFIG and RUN; node B's pulses) pay none: a
# blocking read that waits longer follows them (until 2026-12-02 the model charged them, 2.2
# latencies per herald at oxford2020: the lab time 1.5 % long at 20 km).
_SATELLITE_WRITES_PER_SETTING = 8
_SPACE_PER_REFRESH = 126


def _ceil8(t_mu: float) -> int:
    return 8 * math.ceil(round(t_mu, 6) / 8)


def loop_datasets(
    cycle_s: float,
    run_s: float,
    cool_s: float,
    pump_s: float,
    gate_start_s: float,
    gate_length_s: float,
    detect_s: float,
) -> dict:
    """The ``calib.link.*`` datasets (s) of a nominal loop (a lab description's ``[loop]``):
    pump from 30 ns for ``pump_s``, excitation 80 ns after the pump (8 ns grid), the gate
    ``gate_start_s`` after the photons' onset for ``gate_length_s``, readout for ``detect_s``."""
    pump_stop = PUMP_START_S + pump_s
    excite = _ceil8((pump_stop + PUMP_TO_EXCITE_S) * 1e9) * 1e-9
    values = {
        "cycle_s": cycle_s,
        "run_s": run_s,
        "cool_s": cool_s,
        "pump_start_s": PUMP_START_S,
        "pump_stop_s": pump_stop,
        "excite_time_s": excite,
        "gate_start_s": gate_start_s,
        "gate_length_s": gate_length_s,
        "detect_s": detect_s,
    }
    return {"calib.link." + k: float(v) for k, v in values.items()}


def nearest_mu(core, seconds: float) -> int:
    """``seconds`` in machine units, rounded to the nearest (``core.seconds_to_mu`` floors, so
    1 µs of float arithmetic can come out as 999 mu instead of 1000)."""
    return core.seconds_to_mu(seconds + 0.5 * core.ref_period)


def link_default(env, name: str) -> float:
    """Default of the loop parameter ``name`` (s) for an argument declared in ``build()``: the
    lab's persistent dataset ``calib.link.<name>`` (read through ``env.get_dataset``, so the
    dashboard shows the calibrated value), else :data:`FALLBACK`. An argument given explicitly
    overrides it."""
    return float(env.get_dataset("calib.link." + name, FALLBACK[name]))


def satellite_latency_s(env, nodes) -> float:
    """One-way DRTIO latency (s) to the satellite that holds a node, 0 when every node is on the
    master: ``calib.link.drtio_latency_s`` (the lab's measured latency), else
    :data:`DRTIO_LATENCY_FALLBACK_S`. A node is on a satellite when its PMT's channel number has a
    destination (``channel >> 16``)."""
    if not any(int(getattr(getattr(n, "pmt", None), "channel", 0)) >> 16 for n in nodes):
        return 0.0
    return float(env.get_dataset("calib.link.drtio_latency_s", DRTIO_LATENCY_FALLBACK_S))


def drtio_margin_mu(env, nodes) -> int:
    """What a kernel adds to its slack margin (mu) when one of ``nodes`` sits on a DRTIO
    satellite: :data:`DRTIO_MARGIN_LATENCIES` one-way latencies (:func:`satellite_latency_s`):
    the outputs travel the link, and a write may stall for a round trip while the master
    refreshes its copy of the satellite's buffer space. 0 on one chassis."""
    return DRTIO_MARGIN_LATENCIES * int(env.core.seconds_to_mu(satellite_latency_s(env, nodes)))


def expected_p_success(eta_a: float, eta_b: float, gate_s: float, tau_s: float) -> float:
    """Success probability per attempt expected from the single-photon calibration: ½ η_A η_B
    with each η (photon in the calibration window) scaled to a gate of ``gate_s`` from the onset
    of an exponential arrival of lifetime ``tau_s``."""
    g = -math.expm1(-gate_s / tau_s) if tau_s > 0 else 1.0
    return 0.5 * max(eta_a, 0.0) * max(eta_b, 0.0) * g * g


def herald_timeout_attempts(p: float) -> int:
    """Attempts without a herald after which the link counts as dead: 50/P, or
    :data:`UNKNOWN_P_ATTEMPTS` when ``p`` is not positive."""
    if not p > 0:
        return UNKNOWN_P_ATTEMPTS
    return int(math.ceil(DEAD_LINK_HERALDS / p))


@dataclass(frozen=True)
class HeraldTiming:
    """The gateware loop's timeline (all in mu = 1 ns).

    :param cycle_mu: attempt cycle. :param run_mu: run timeout. :param cool_mu: re-cooling per run.
    :param margin_mu: slack margin re-established after each blocking read.
    :param detect_mu: readout detection time (the longer node).
    :param rotation_mu: mean analysis pulse length per herald (the longer node, averaged over the
        mode's settings).
    :param link_mu: one-way DRTIO latency to the satellite node (0: one chassis); the slack
        margin then includes it.
    :param satellite_reads: input reads of satellite channels per herald (the satellite node's
        PMT count: one read per count and one that times out), a round trip each.
    :param heralds_per_setting: heralds per analysis setting; the loop programs the qubit drives'
        phases once per setting (:attr:`phases_mu`).
    :param check_every: runs between pause checks (:attr:`check_mu` each).
    """

    cycle_mu: int
    run_mu: int
    cool_mu: int
    margin_mu: int
    detect_mu: int
    rotation_mu: float
    link_mu: int = 0
    satellite_reads: float = 0.0
    heralds_per_setting: int = HERALDS_PER_SETTING
    check_every: int = CHECK_EVERY

    @property
    def check_mu(self) -> float:
        """Timeline of one pause check: the synchronous RPC, then ``renew_slack`` from the
        counter it leaves (``break_realtime``, or the margin if that is more: a satellite's
        link latencies), less the slack margin the cursor was ahead by."""
        return float(RPC_MU + max(BREAK_REALTIME_MU, self.margin_mu) - self.margin_mu)

    @property
    def run_cycles(self) -> int:
        """Cycles of a run that times out (the gateware ends it at the end of the cycle in which
        the timeout, counted in 8 ns ticks, expires)."""
        return -(-(self.run_mu >> 3) // (self.cycle_mu >> 3))

    @property
    def run_overhead_mu(self) -> float:
        """Timeline per run besides its cycles: the cooling trace (one coarse cycle without
        re-cooling), two coarse cycles (config, RUN write), the slack margin and the CPU's reads
        after the run; with a satellite the slave entangler's writes and answer (a round trip;
        the buffer-space round trips of the run's writes to the satellite cost no timeline: the
        CPU waits for the run's end after them anyway); the share of a pause check (one per
        ``check_every`` runs)."""
        slave = _SLAVE_RUN_MU + 2 * self.link_mu if self.link_mu else 0.0
        check = self.check_mu / self.check_every
        return max(self.cool_mu, 8) + 16 + self.margin_mu + _RUN_GAP_MU + slave + check

    @property
    def _refresh_per_write_mu(self) -> float:
        """Mean buffer-space round trip per write to the satellite (mu)."""
        return 2 * self.link_mu / _SPACE_PER_REFRESH

    @property
    def duty_cycle(self) -> float:
        """D: fraction of the loop's time spent in attempt cycles (without herald handling)."""
        t = self.run_cycles * self.cycle_mu
        return t / (t + self.run_overhead_mu)

    @property
    def after_herald_mu(self) -> float:
        """Timeline from a heralding run's end until the loop is ready for the next setting
        (what ``totals.herald_handling_s`` measures per herald): the gap after the run, analysis
        pulses, readout, the register and PMT reads, the RPC and the slack margins (the
        buffer-space round trips of node B's pulses cost no timeline: the PMT reads wait for the
        readout's end after them anyway)."""
        return (
            self.rotation_mu
            + 8
            + self.detect_mu
            + _HERALD_MARGINS * self.margin_mu
            + _HERALD_READS_MU
            + self.satellite_reads * 2 * self.link_mu
        )

    @property
    def phases_mu(self) -> float:
        """Timeline of one setting change: both qubit drives' phase writes (their SPI transfers'
        CPU time), with a satellite node B's writes' share of the buffer-space round trips."""
        refresh = _SATELLITE_WRITES_PER_SETTING * self._refresh_per_write_mu if self.link_mu else 0
        return _PHASES_MU + refresh

    def herald_s(self, p: float) -> float:
        """T_herald (s): lab time per herald besides the attempts' share of the loop
        (1/R_loop): :attr:`after_herald_mu` and the share of one setting change's phase writes
        (:attr:`phases_mu` / ``heralds_per_setting``), less the gap after the run that the loop
        already counts, plus the part of the heralding run's cooling and gap that the run the
        herald cuts short does not amortise."""
        handling = self._handling_mu + self.phases_mu / self.heralds_per_setting
        if not 0 < p < 1:
            return handling * 1e-9
        n = self.run_cycles
        runs = 1.0 / -math.expm1(n * math.log1p(-p))  # runs started per herald
        return (handling + (runs - 1.0 / (n * p)) * self.run_overhead_mu) * 1e-9

    @property
    def _handling_mu(self) -> float:
        """Timeline per herald beyond the loop's, the phase writes apart."""
        return self.after_herald_mu - self.margin_mu - _HERALD_GAP_MU

    def lab_time_mu(
        self, attempts: int, runs: int, heralds: int, settings: float | None = None
    ) -> float:
        """Lab time (mu) of a loop that made ``attempts`` attempts in ``runs`` runs, recorded
        ``heralds`` heralds and programmed the phases of ``settings`` settings (default
        ``heralds / heralds_per_setting``; a kernel that resumes after a pause programs its
        current setting again) (the model behind :meth:`herald_s`, for given counts)."""
        if settings is None:
            settings = heralds / self.heralds_per_setting
        return (
            attempts * self.cycle_mu
            + runs * self.run_overhead_mu
            + heralds * self._handling_mu
            + settings * self.phases_mu
        )

    def loop_rate_hz(self, p: float) -> float:
        """R_loop = P·f·D (s⁻¹): heralds per second of attempt loop, herald handling excluded."""
        return p / (self.cycle_mu * 1e-9) * self.duty_cycle

    def rate_hz(self, p: float) -> float:
        """R = 1/(1/R_loop + T_herald) (s⁻¹): heralds per second of lab time."""
        r = self.loop_rate_hz(p)
        return 1.0 / (1.0 / r + self.herald_s(p)) if r > 0 else 0.0


def mean_rotation(theta_a, theta_b) -> float:
    """Mean over the analysis settings of the longer analysis pulse (rad), for
    :attr:`HeraldTiming.rotation_mu` (times the node's mu per rad)."""
    pairs = list(zip(theta_a, theta_b))
    return sum(max(a, b) for a, b in pairs) / len(pairs) if pairs else 0.0
