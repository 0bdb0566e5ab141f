# SPDX-License-Identifier: LGPL-3.0-or-later
"""Timing of the CPU-heralding loop (``repository/remote_entanglement_cpu.py``): the attempt
period the kernel's reads set, and what re-cooling, clicks and heralds add to it.

The counterpart of :class:`drivers.link_timing.HeraldTiming` (the gateware loop) for labs without
the entangler: the budget's rate of the CPU path (``ionlink-sim budget LAB --path cpu``). Per
attempt the kernel plays the attempt trace by DMA, then reads the four detectors' first clicks
(``drivers.bsa``): the first read blocks until the gate end plus the gate latency, the others
then cost their CPU time, and the cursor moves to the RTIO counter + slack margin. So the period
is not the trace's cycle but

    T_attempt = ⌈r + gate_end − 88 + 104⌉₈ + 3 reads + counter read + margin − r,  r = margin mod 8

(gate_end: the end of the window of click timestamps, which the gates register 88 mu after they
open and close; the cursor stays on the counter's 8 mu grid plus the margin). A detector of
det1..det3 that clicked is read once more after the blocking wait (its click, then the read that
finds none): one input read per click. det0's first read returns at its click's arrival, so its
second read's CPU time runs past the gate's end: an input read less the click's time before the
read's timeout (≈ 225 mu). Every ``attempts_per_cool`` attempts the kernel
returns from the driver (a resync right after the driver's own: one more counter read and
cursor step) and re-cools (the cooling trace's length; the CPU time of its playback hides in it).
At the first cooling after ``check_every`` attempts the kernel asks ``should_stop``, a host
method, so a synchronous RPC (≈ 40 µs on Kasli 2.0), while the cooling plays, then resyncs: what
the playback's CPU time, the RPC and the resync take beyond the cooling trace is timeline (at
``oxford2020``, 20 µs of cooling: ≈ 21 µs a check; with continuous cooling, no trace: all of
it). After a herald: the resync (as
every attempt), the analysis pulses, both readouts, the counts (node A's reads hide in the
detection, node B's come after it), the async RPC and a resync; then a cooling.

The CPU costs are the Kasli 2.0 means of the simulator's cost table (``sim/rtio/costs.py``:
input read 240 mu, counter read 80, cursor step 24, synchronous RPC 40 000, async RPC 2000, DMA
playback 560 + 80 an event), measured once in the simulator (2026-12-01, oxford2020 and duke2024,
silent detectors: the lab time of N attempts is the model's to the mu);
``tests/experiments/test_cpu_budget.py`` re-measures them.
"""

import math
from dataclasses import dataclass

from drivers.link_timing import CHECK_EVERY, RPC_MU, HeraldTiming

__all__ = [
    "CHECK_EVERY",
    "CPU_MARGIN_S",
    "GATE_INPUT_OFFSET_MU",
    "GATE_LATENCY_MU",
    "INPUT_ARRIVAL_MU",
    "CpuHeraldTiming",
]

#: Slack margin of the CPU loop (s), the CPU experiment's default ``slack_margin``.
CPU_MARGIN_S = 1.8e-6
#: ``drivers.bsa.GATE_INPUT_OFFSET_MU`` (that module needs ARTIQ; the test checks they agree): the
#: detector gates open and close this long before the window of click timestamps they register.
GATE_INPUT_OFFSET_MU = 88
#: TTL input gate latency (``TTLInOut.gate_latency_mu``, 13 coarse cycles): a read waits until the
#: gate end + this.
GATE_LATENCY_MU = 104

#: A click's arrival at the CPU after its timestamp (the simulator's TTL input PHY).
INPUT_ARRIVAL_MU = 16

_INPUT_READ_MU = 240  # one input read (timestamp_mu, or one event of count)
_COUNTER_READ_MU = 80  # get_rtio_counter_mu
_CURSOR_STEP_MU = 24  # at_mu
# the cooling trace's DMA playback: its start, its events (cooling and repump beams on and off at
# both nodes: ``drivers.node.Node.cool_mu``) and the cursor step past the trace
_COOL_PLAYBACK_MU = 560 + 8 * 80 + _CURSOR_STEP_MU
# after the blocking read: the three reads that find no click and the counter read of the resync
_ATTEMPT_TAIL_MU = 3 * _INPUT_READ_MU + _COUNTER_READ_MU
# a resync right after another (a block's end): its counter read and the previous cursor step
_RESYNC_AGAIN_MU = _COUNTER_READ_MU + _CURSOR_STEP_MU
# after a herald's readout, besides node B's count reads (one per count): the PMT gate latency,
# node B's read that finds no more counts, the async RPC and the resync's counter read
_HERALD_FIXED_MU = GATE_LATENCY_MU + _INPUT_READ_MU + 2_000 + _COUNTER_READ_MU


def _ceil8(t_mu: int) -> int:
    return -(-t_mu // 8) * 8


@dataclass(frozen=True)
class CpuHeraldTiming:
    """The CPU loop's timeline (mu = 1 ns).

    :param loop: what it shares with the gateware loop (:class:`HeraldTiming`): ``cycle_mu`` (the
        attempt trace's length, a lower bound of the period), ``cool_mu``, ``margin_mu`` (as the
        experiment converts it: rounded down), ``detect_mu``, ``rotation_mu``, the phase writes
        per setting (:attr:`HeraldTiming.phases_mu`) and ``heralds_per_setting``.
    :param gate_end_mu: end of the detector gates' window of click timestamps after the attempt's
        start (excitation time + ``calib.photon.gate_stop_mu``).
    :param gate_length_mu: length of that window.
    :param attempts_per_cool: attempts between two coolings.
    :param clicks: click probability per attempt of each detector (det0..det3) in the gate.
    :param readout_counts_b: mean PMT counts of node B per herald (read after its detection).
    :param check_every: attempts between pause checks.
    """

    loop: HeraldTiming
    gate_end_mu: int
    gate_length_mu: int
    attempts_per_cool: int
    clicks: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    readout_counts_b: float = 0.0
    check_every: int = CHECK_EVERY

    @property
    def _timeout_mu(self) -> int:
        """The reads' timeout after the attempt's start: the gates close, plus the latency."""
        return self.gate_end_mu - GATE_INPUT_OFFSET_MU + GATE_LATENCY_MU

    @property
    def _grid(self) -> int:
        """Where the attempts start on the 8 mu grid (the counter's, plus the margin)."""
        return self.loop.margin_mu % 8

    @property
    def attempt_mu(self) -> int:
        """Period of an attempt without a click (mu): the blocking read's timeout, the reads and
        the counter read after it, the margin (the trace's cycle if longer). Valid while the
        margin covers the trace's DMA playback (``MIN_SLACK_MARGIN_S["cpu"]``)."""
        r = self._grid
        t = _ceil8(r + self._timeout_mu) + _ATTEMPT_TAIL_MU + self.loop.margin_mu - r
        return max(self.loop.cycle_mu, t)

    def det0_click_mu(self, t_click: int) -> int:
        """Extra timeline of an attempt in which det0 clicked at ``t_click`` (mu after the
        attempt's start): its first read returns at the click's arrival, so the next one's CPU
        time runs past the gate's end (a click of det1..det3 costs one input read)."""
        r = self._grid
        wait = _ceil8(r + self._timeout_mu)
        back = r + t_click + INPUT_ARRIVAL_MU + _INPUT_READ_MU
        return max(back, wait) // 8 * 8 - wait

    @property
    def det0_mean_click_mu(self) -> float:
        """:meth:`det0_click_mu` averaged over the gate (clicks spread evenly)."""
        ts = range(self.gate_end_mu - self.gate_length_mu, self.gate_end_mu)
        return sum(self.det0_click_mu(t) for t in ts) / max(1, len(ts))

    @property
    def click_mu(self) -> float:
        """Mean extra timeline per attempt of the clicks in it (mu)."""
        c = self.clicks
        return c[0] * self.det0_mean_click_mu + (c[1] + c[2] + c[3]) * _INPUT_READ_MU

    @property
    def block_end_mu(self) -> float:
        """Timeline per cooling that ends a block of attempts without a click: the cooling and
        the kernel's resync after the driver's."""
        return self.loop.cool_mu + _RESYNC_AGAIN_MU

    @property
    def check_mu(self) -> float:
        """Timeline of one pause check: the cooling's playback (if it has a trace), the RPC and
        the resync after it, beyond the cooling trace they run under."""
        cool = self.loop.cool_mu
        playback = _COOL_PLAYBACK_MU if cool > 0 else 0
        return float(max(0, playback + RPC_MU + _RESYNC_AGAIN_MU - cool))

    @property
    def checks_per_attempt(self) -> float:
        """Pause checks per attempt: one at the first cooling after ``check_every`` attempts."""
        n = self.attempts_per_cool
        return 1.0 / (n * math.ceil(self.check_every / n))

    @property
    def loop_attempt_mu(self) -> float:
        """Mean loop time per attempt (mu), herald handling excluded: the period, the clicks'
        reads, the share of the coolings and pause checks."""
        return (
            self.attempt_mu
            + self.click_mu
            + self.block_end_mu / self.attempts_per_cool
            + self.checks_per_attempt * self.check_mu
        )

    @property
    def duty_cycle(self) -> float:
        """D: the attempts' share of the loop time (without herald handling)."""
        return self.attempt_mu / self.loop_attempt_mu

    @property
    def herald_clicks_mu(self) -> float:
        """Mean extra timeline of a herald's two clicks (the four patterns equally likely: det0
        in two of them)."""
        return 0.5 * self.det0_mean_click_mu + 1.5 * _INPUT_READ_MU

    @property
    def herald_handling_mu(self) -> float:
        """Timeline from the heralding attempt's trace end to the end of its handling (what
        ``totals.herald_handling_s`` measures per herald): the rest of the attempt and its
        clicks' reads, the analysis pulses, the readout, node B's count reads, the RPC, the
        margin."""
        return self.after_trace_mu(self.herald_clicks_mu, self.readout_counts_b)

    def after_trace_mu(self, clicks_mu: float, counts_b: float) -> float:
        """:attr:`herald_handling_mu` of one herald whose clicks cost ``clicks_mu`` (see
        :meth:`det0_click_mu`) and with ``counts_b`` PMT counts of node B (with node B on a
        DRTIO satellite, ``loop.link_mu`` > 0, each of its reads a round trip over the link)."""
        lp = self.loop
        return (
            self.attempt_mu
            - lp.cycle_mu
            + clicks_mu
            + lp.rotation_mu
            + 8
            + lp.detect_mu
            + _HERALD_FIXED_MU
            + counts_b * _INPUT_READ_MU
            + (counts_b + 1) * 2 * lp.link_mu
            + lp.margin_mu
        )

    def herald_s(self, p: float) -> float:
        """T_herald (s): lab time per herald besides the loop's (1/R_loop): its handling beyond
        an attempt, the share of a setting change's phase writes, and the coolings the heralds
        add (each herald starts a new block with a cooling; without it the loop would have gone
        on to the next cooling of its block)."""
        lp = self.loop
        handling = (
            self.herald_handling_mu
            - (self.attempt_mu - lp.cycle_mu)
            + lp.phases_mu / lp.heralds_per_setting
        )
        n = self.attempts_per_cool
        if not 0 < p < 1:
            return (handling + lp.cool_mu) * 1e-9
        blocks = 1.0 / -math.expm1(n * math.log1p(-p))  # coolings per herald
        extra = blocks * lp.cool_mu + (blocks - 1) * _RESYNC_AGAIN_MU - self.block_end_mu / (n * p)
        return (handling + extra) * 1e-9

    def lab_time_mu(
        self,
        attempts: int,
        coolings: int,
        heralds: int,
        settings: float | None = None,
        checks: float | None = None,
    ) -> float:
        """Lab time (mu) of a loop that made ``attempts`` attempts with ``coolings`` coolings,
        recorded ``heralds`` heralds and programmed the phases of ``settings`` settings (default
        ``heralds / heralds_per_setting``), with ``checks`` pause checks (default: the expected
        number) and the expected clicks (the model behind :meth:`herald_s`, for given counts).
        The blocks that end without a click are ``coolings − heralds``."""
        lp = self.loop
        if settings is None:
            settings = heralds / lp.heralds_per_setting
        if checks is None:
            checks = attempts * self.checks_per_attempt
        return (
            attempts * (self.attempt_mu + self.click_mu)
            + coolings * lp.cool_mu
            + (coolings - heralds) * _RESYNC_AGAIN_MU
            + checks * self.check_mu
            + heralds * (self.herald_handling_mu - (self.attempt_mu - lp.cycle_mu))
            + settings * lp.phases_mu
        )

    @property
    def rotation_wait_s(self) -> float:
        """Herald → analysis pulses (s), counted from the gate window's end (the photons came
        at most a gate length earlier): the rest of the heralding attempt (latency, reads, the
        margin) and its clicks' reads."""
        return (self.attempt_mu + self.herald_clicks_mu - self.gate_end_mu) * 1e-9

    def loop_rate_hz(self, p: float) -> float:
        """R_loop = P·f·D (s⁻¹), f = 1/T_attempt: heralds per second of attempt loop."""
        return p / (self.loop_attempt_mu * 1e-9)

    def rate_hz(self, p: float) -> float:
        """R = 1/(1/R_loop + T_herald) (s⁻¹): heralds per second of lab time."""
        r = self.loop_rate_hz(p)
        return 1.0 / (1.0 / r + self.herald_s(p)) if r > 0 else 0.0
