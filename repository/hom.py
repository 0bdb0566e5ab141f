# SPDX-License-Identifier: LGPL-3.0-or-later
"""Two-photon (Hong-Ou-Mandel) interference between the nodes, with the entangler core as a fast
counter.

Both nodes are pumped and excited in every cycle; node B's excitation is delayed by each value of
``delays`` (8 ns steps of the entangler outputs; the last value, >> tau, is the distinguishable
reference). The gateware counts cycles with cross-port same-polarisation coincidences (patterns
0b0101 = H on both ports, 0b1010 = V on both ports), which vanish for indistinguishable photons.
Visibility V = 1 - C(0)/C(ref) (per-attempt rates); for ideal single photons V equals the mode
overlap M. Writes ``hom.delay_mu``, ``hom.coincidences``, ``hom.attempts``, ``hom.gate_mu`` (the
detection gate of every delay, ns from node A's excitation), ``hom.visibility`` with its 95 %
interval ``hom.visibility_lo``/``_hi`` (``analysis.hom``: exact, bounded by V <= 1) and
``hom.visibility_err`` (half the interval width): none, with a warning line, where the
coincidences are too few for an interval above −1 (``analysis.hom.TooFewCoincidences``),
``hom.singles`` (delays × 4: cycles in which
each detector clicked, the entangler's input counters). Needs the gate window from the
single-photon calibration. With the Dark counts calibration (``calib.bsa.dark_rate_hz``) also
``hom.accidentals`` (the coincidences per delay in which a dark count stands for a click,
expected from the singles and the dark counts in the gate: ``analysis.hom.accidental_coincidences``)
and ``hom.visibility_corrected`` with ``_lo``/``_hi``: the visibility of the photon pairs, those
subtracted (``analysis.hom.hom_visibility_corrected``); where the store has the dark counts the
rates were measured from (``calib.bsa.dark_counts``/``dark_duration_s``, ``drivers.dark_rates``)
the interval takes in the rates' own uncertainty (the accidentals marginalised over their draws).

Every delay plays the same gate: from the calibrated gate's start to its stop + 2 × the largest
delay (:func:`hom_gate_mu`), so that each photon, node B's at the reference delay too, falls in
it with its whole decay (what it misses, e^(−max delay/tau), is what the reference keeps of the
overlap anyway) and every delay has the same dark counts: V compares like with like. (Before
2026-12-02 each delay's gate ended ``delay`` after the calibrated stop: node A's photon had its
whole decay only at the reference, which also had up to 30 × the dark counts of the zero delay,
and V came out above M: 0.575 for M = 0.5 without dark counts, 0.823 with 10 kHz.)

The scheduler is asked after each delay and every ``CHECK_EVERY`` (500) runs within one: a pause
request leaves the kernel, yields (``scheduler.pause()``) and resumes where it was (the runs taken
kept); a termination request ends the scan there, with the runs taken written
(``totals.stop_reason`` ``terminated``, ``drivers.run_end``; the visibility needs the whole scan).
"""

import logging

import numpy as np
from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.experiment import *
from numpy import int32, int64

from drivers.arguments import ArgumentValueError, CheckedArguments
from drivers.dark_rates import read_dark_calibration
from drivers.entangler import GATE_DET0, OUT_EXCITE_A, OUT_EXCITE_B, OUT_PUMP_A, OUT_PUMP_B
from drivers.link import SCHEMA_VERSION
from drivers.link_timing import CHECK_EVERY, drtio_margin_mu, link_default, nearest_mu
from drivers.run_end import STOP_REASON, run_until_complete

logger = logging.getLogger(__name__)


def hom_gate_mu(gate_start_mu: int, gate_stop_mu: int, max_delay_mu: int) -> tuple[int, int]:
    """The detection gate of every delay, mu from node A's excitation: the calibrated
    ``[gate_start_mu, gate_stop_mu)`` held open 2 × ``max_delay_mu`` longer."""
    return gate_start_mu, gate_stop_mu + 2 * max_delay_mu


class HOM(CheckedArguments, EnvExperiment):
    """Two-photon interference (HOM visibility)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.setattr_device("scheduler")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_device("bsa")
        self.setattr_argument(
            "delays",
            PYONValue([0, 8, 16, 32, 400]),
            tooltip="node B excitation delays in mu (multiples of 8); last = reference",
        )
        self.setattr_argument(
            "runs_per_delay", NumberValue(200, precision=0, step=1, min=1, type="int")
        )
        self.setattr_argument(
            "run_duration",
            NumberValue(link_default(self, "run_s"), unit="us", min=1 * us),
            tooltip="default: calib.link.run_s",
        )
        self.setattr_argument(
            "cooling_time",
            NumberValue(link_default(self, "cool_s"), unit="us", min=0.0),
            tooltip="default: calib.link.cool_s",
        )
        self.setattr_argument(
            "slack_margin",
            NumberValue(2 * us, unit="us", min=0.2 * us),
            tooltip="slack re-established after each blocking read",
        )

    def prepare(self):
        self.check_arguments()
        for node in (self.node_a, self.node_b):
            node.load_calibration(self)

        def s2mu(x):
            return nearest_mu(self.core, x)

        self.delay_list = self.checked_delays()
        max_delay = max(self.delay_list)
        self.pump_start_mu = int32(s2mu(link_default(self, "pump_start_s")))
        self.pump_stop_mu = int32(s2mu(link_default(self, "pump_stop_s")))
        self.excite_mu = int32(s2mu(link_default(self, "excite_time_s"))) & ~7
        self.excite_len_mu = int32(max(self.node_a.t_excite_mu, self.node_b.t_excite_mu))
        gate0, gate1 = hom_gate_mu(
            int(self.get_dataset("calib.photon.gate_start_mu", 0)),
            int(self.get_dataset("calib.photon.gate_stop_mu", 60)),
            max_delay,
        )
        self.gate0, self.gate1 = int32(gate0), int32(gate1)
        self.cycle_mu = int32((self.excite_mu + gate1 + 64 + 7) & ~7)
        if self.cycle_mu > 8176:
            raise ArgumentValueError(
                "HOM cycle {} ns exceeds the entangler's 8176 ns (the gate stays open 2 × the "
                "largest delay after the calibrated gate): shorter delays or "
                "an earlier gate".format(self.cycle_mu)
            )
        self.run_mu = int64(s2mu(self.run_duration))
        self.t_cool_mu = int64(s2mu(self.cooling_time))
        # (node B on a DRTIO satellite: its outputs need the link's latencies on top, after a
        # blocking read and after a break_realtime alike, renew_slack; 0 on one chassis)
        self.margin_mu = int64(
            s2mu(self.slack_margin) + drtio_margin_mu(self, (self.node_a, self.node_b))
        )
        self.underflows = 0
        self.coinc = [0] * len(self.delay_list)
        self.singles = np.zeros((len(self.delay_list), 4), dtype=np.int64)
        self.dark_rate, self.dark_cal = read_dark_calibration(self, "HOM (the accidentals)")
        self.attempts = [0] * len(self.delay_list)
        self.runs_done = [0] * len(self.delay_list)  # where a kernel resumed after a pause goes on
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "hom")
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)

    def checked_delays(self):
        """``delays`` as the entangler plays them (mu), refused in one line where it cannot
        (not whole 8 ns steps: before 2026-12-02 ``[0, 4, 400]`` played and stored 0, 0, 400)
        or where the reference, the largest |delay|, is not distinguishable: below 5 lifetimes
        of the single-photon calibration (``calib.photon.tau_s``) the photons still overlap by
        more than e^(−5) and V comes out low."""
        delays = [int(d) for d in self.delays]
        if not delays or any(d != x or d % 8 for d, x in zip(delays, self.delays)):
            raise ArgumentValueError(
                "argument 'delays' = {}: node B's excitation moves in whole 8 ns steps of the "
                "entangler (e.g. [0, 8, 16, 32, 400])".format(list(self.delays))
            )
        tau_ns = float(self.get_dataset("calib.photon.tau_s", 0.0)) * 1e9
        ref = max(abs(d) for d in delays)
        if len(delays) > 1 and ref < 5 * tau_ns:
            raise ArgumentValueError(
                "argument 'delays' = {}: the reference delay {} ns is below 5 photon lifetimes "
                "({:.0f} ns, calib.photon.tau_s): its photons still overlap, so it is no "
                "reference; add one of >= {:.0f} ns".format(delays, ref, 5 * tau_ns, 5 * tau_ns)
            )
        return [int32(d) for d in delays]

    @rpc(flags={"async"})
    def store(
        self,
        i: TInt32,
        coincidences: TInt64,
        attempts: TInt64,
        runs: TInt32,
        singles: TList(TInt64),
    ):
        """Add ``runs`` more runs of delay ``i`` with their coincidences, attempts and each
        detector's clicking cycles."""
        self.coinc[i] += coincidences
        self.singles[i] += np.array(singles, dtype=np.int64)
        self.attempts[i] += attempts
        self.runs_done[i] += runs
        total = len(self.delay_list) * self.runs_per_delay
        self.set_dataset(
            "ionlink.progress", sum(self.runs_done) / total, broadcast=True, archive=False
        )

    def delays_done(self) -> TInt32:
        """Delays measured in full (a scan resumed after a pause goes on with the next)."""
        full = [r >= self.runs_per_delay for r in self.runs_done]
        return full.index(False) if False in full else len(full)

    def runs_taken(self, i: TInt32) -> TInt32:
        """Runs of delay ``i`` taken so far (a delay cut by a pause goes on from there)."""
        return self.runs_done[i]

    @kernel
    def setup(self, delay_mu: TInt32):
        e = self.entangler
        e.init()
        e.set_cycle_length_mu(self.cycle_mu)
        e.set_timing_mu(OUT_PUMP_A, self.pump_start_mu, self.pump_stop_mu)
        e.set_timing_mu(OUT_PUMP_B, self.pump_start_mu, self.pump_stop_mu)
        e.set_timing_mu(OUT_EXCITE_A, self.excite_mu, self.excite_mu + self.excite_len_mu)
        e.set_timing_mu(
            OUT_EXCITE_B, self.excite_mu + delay_mu, self.excite_mu + delay_mu + self.excite_len_mu
        )
        for d in range(4):
            e.set_timing_mu(GATE_DET0 + d, self.excite_mu + self.gate0, self.excite_mu + self.gate1)
        e.clear_heralds()
        e.set_counter_patterns(0, [0b0101, 0b1010])

    @kernel
    def resync(self):
        """Cursor to RTIO counter + ``slack_margin`` after a blocking read (never backwards)."""
        t = self.core.get_rtio_counter_mu() + self.margin_mu
        if now_mu() < t:
            at_mu(t)

    @kernel
    def renew_slack(self):
        """New slack after a synchronous RPC or an RTIOUnderflow: ``core.break_realtime``, then
        :meth:`resync` (with node B on a satellite the margin's link latencies exceed its 125 µs
        beyond ~8 km of fibre; as ``drivers.link.LinkExperiment.renew_slack``)."""
        self.core.break_realtime()
        self.resync()

    @kernel
    def record_cooling(self):
        """Record the re-cooling of both nodes (in parallel) to DMA (``IonNode.recool_mu``: one
        coarse cycle without re-cooling). Does not move the cursor."""
        with self.core_dma.record("hom.cool"):
            t0 = now_mu()
            self.node_a.recool_mu(self.t_cool_mu)
            at_mu(t0)
            self.node_b.recool_mu(self.t_cool_mu)

    def run(self):
        run_until_complete(self, self.scan, self.store_results)

    def store_results(self):
        """The delays measured so far (``hom.delay_mu``, ``hom.coincidences``, ``hom.attempts``:
        zero where not measured; also when terminated) and why the run ended
        (``totals.stop_reason``)."""
        self.set_dataset(STOP_REASON, self.stop_reason)
        self.set_dataset("hom.delay_mu", np.array(self.delay_list, dtype=np.int64))
        self.set_dataset("hom.gate_mu", np.array([self.gate0, self.gate1], dtype=np.int64))
        self.set_dataset("hom.coincidences", np.array(self.coinc, dtype=np.int64))
        self.set_dataset("hom.attempts", np.array(self.attempts, dtype=np.int64))
        self.set_dataset("hom.singles", self.singles)

    @kernel
    def scan(self) -> TBool:
        """The delays not yet measured, in order; after each the scheduler is asked whether to
        pause. False: a pause (or termination) was requested before the last."""
        self.core.reset()
        self.record_cooling()
        cool = self.core_dma.get_handle("hom.cool")
        self.renew_slack()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        n = len(self.delay_list)
        for i in range(self.delays_done(), n):
            self.renew_slack()
            self.setup(self.delay_list[i])
            coinc = int64(0)
            attempts = int64(0)
            singles = [int64(0)] * 4
            clicked = [0] * 4  # this run's clicking cycles per detector
            ncycles = -1  # timed-out standalone runs all have the same cycle count
            r = self.runs_taken(i)
            k = 0  # runs since the last store
            while r < self.runs_per_delay:
                if k == CHECK_EVERY:
                    self.store(i, coinc, attempts, k, singles)
                    coinc = int64(0)
                    attempts = int64(0)
                    for j in range(4):
                        singles[j] = int64(0)
                    k = 0
                    pause = self.scheduler.check_pause()
                    self.renew_slack()
                    if pause:
                        self.entangler.set_config(False, True)
                        self.set_underflows(self.underflows)
                        return False
                try:
                    self.core_dma.playback_handle(cool)
                    self.entangler.set_config(True, True)
                    end_mu, reason = self.entangler.run_mu(self.run_mu)
                    at_mu(end_mu)
                    self.resync()  # run_mu blocked until the run ended
                    if ncycles < 0:
                        ncycles = self.entangler.get_ncycles()
                        self.resync()
                    c = self.entangler.get_pattern_count(0)
                    self.resync()
                    for j in range(4):
                        clicked[j] = self.entangler.get_input_count(j)
                        self.resync()
                    attempts += int64(ncycles)
                    coinc += int64(c)
                    for j in range(4):
                        singles[j] += int64(clicked[j])
                    r += 1
                    k += 1
                except RTIOUnderflow:
                    # the run's counts are lost; repeat it
                    self.underflows += 1
                    self.renew_slack()
            self.renew_slack()
            self.entangler.set_config(False, True)
            self.store(i, coinc, attempts, k, singles)
            if i < n - 1 and self.scheduler.check_pause():
                self.set_underflows(self.underflows)
                return False
        self.set_underflows(self.underflows)
        return True

    def set_underflows(self, n: TInt32):
        self.set_dataset("hom.underflows_recovered", n)

    def analyze(self):
        c = np.array(self.coinc, dtype=np.int64)
        n = np.array(self.attempts, dtype=np.int64)
        from analysis.hom import hom_visibility  # same estimator as offline analysis

        try:
            v = hom_visibility(np.array(self.delay_list, dtype=np.int64), c, n)
        except ValueError as e:  # no attempts, no reference coincidences, or too few
            logger.warning("HOM: no visibility: %s", e)
            return
        self.set_dataset("hom.visibility", v.value)
        self.set_dataset("hom.visibility_lo", v.lo)
        self.set_dataset("hom.visibility_hi", v.hi)
        # half the width of the 95 % interval (kept for earlier readers of the file)
        self.set_dataset("hom.visibility_err", 0.5 * (v.hi - v.lo))
        if self.dark_rate is not None:
            self.analyze_accidentals(c, n)

    def analyze_accidentals(self, c, n):
        """``hom.accidentals`` and ``hom.visibility_corrected`` (with ``_lo``/``_hi``) from the
        singles and the calibrated dark counts in the gate."""
        from analysis.hom import ACCIDENTAL_DRAWS, accidental_coincidences, hom_visibility_corrected

        width_s = (self.gate1 - self.gate0) * self.core.ref_period
        dark = -np.expm1(-np.asarray(self.dark_rate, dtype=float) * width_s)
        acc = accidental_coincidences(self.singles, n, dark)
        self.set_dataset("hom.accidentals", acc)
        draws = None
        if self.dark_cal is not None:  # the rates' own uncertainty, from the counts measured
            rates = self.dark_cal.rate_draws(ACCIDENTAL_DRAWS, np.random.default_rng(0))
            draws = accidental_coincidences(self.singles, n, -np.expm1(-rates * width_s))
        delays = np.array(self.delay_list, dtype=np.int64)
        try:
            v = hom_visibility_corrected(delays, c, n, acc, accidental_draws=draws)
        except ValueError as e:  # the reference's coincidences are all accidental, or too few
            logger.warning("HOM: no visibility with the accidentals subtracted: %s", e)
            return
        self.set_dataset("hom.visibility_corrected", v.value)
        self.set_dataset("hom.visibility_corrected_lo", v.lo)
        self.set_dataset("hom.visibility_corrected_hi", v.hi)
