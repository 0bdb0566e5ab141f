# SPDX-License-Identifier: LGPL-3.0-or-later
"""Detector dark counts and background of the four Bell-state-analyser detectors.

Two conditions, each ``gates`` × ``gate_length`` of gated time on all four detectors at once,
read in sub-gates (at most ``gate_length``) short enough that no detector's 64-event input FIFO
fills at the rate it counts (:meth:`drivers.bsa.BellStateAnalyser.count_gates`: up to ≈ 7e5 s⁻¹ a
detector; above, the run stops saying so): ``dark`` with every beam off, and ``background``
with both nodes' cooling and repump beams on (scattered light reaching the detectors while the
ions are cooled). Writes ``dark.counts`` (int64[4]),
``dark.duration_s`` (gated time per detector), ``background.counts``, the rates
``dark.rate_hz``/``background.rate_hz``, and the persistent ``calib.bsa.dark_rate_hz`` (list of 4,
s^-1) that the single-photon, HOM and polarisation-compensation analyses use, with what it was
measured from: ``calib.bsa.dark_counts`` (list of 4) and ``calib.bsa.dark_duration_s`` (gated
time per detector), which give the rates' own Poisson uncertainty to the intervals that subtract
them (``analysis.dark_rate``; since 2026-12-02).

The scheduler is asked between the two conditions: a pause request leaves the kernel, yields
(``scheduler.pause()``) and measures the background afterwards; a termination request ends the
run with the counts taken written (``totals.stop_reason`` ``terminated``, ``drivers.run_end``) and
the calibration left as it was.
"""

import numpy as np
from artiq.coredevice.exceptions import RTIOOverflow
from artiq.experiment import *
from numpy import int64

from drivers.arguments import CheckedArguments
from drivers.bsa import count_overflow_error
from drivers.link import SCHEMA_VERSION
from drivers.run_end import STOP_REASON, run_until_complete


class DarkCounts(CheckedArguments, EnvExperiment):
    """Detector dark counts and background"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("scheduler")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_device("bsa")
        self.setattr_argument("gates", NumberValue(100, precision=0, step=1, min=1, type="int"))
        self.setattr_argument("gate_length", NumberValue(10 * ms, unit="ms", min=1 * us))

    def prepare(self):
        self.check_arguments()
        self.gate_mu = int64(self.core.seconds_to_mu(self.gate_length))
        self.results = {}
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "dark_counts")
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)

    @rpc(flags={"async"})
    def store(self, condition: TInt32, counts: TList(TInt64)):
        self.results[condition] = np.array(counts, dtype=np.int64)
        self.set_dataset("ionlink.progress", len(self.results) / 2, broadcast=True, archive=False)

    @kernel
    def measure(self, condition: TInt32):
        """``gates`` × ``gate_mu`` of gated time on all four detectors (:meth:`drivers.bsa.
        BellStateAnalyser.count_gates`: contiguous sub-gates sized to the count rate), the
        cooling light off (``condition`` 0) or on (1)."""
        totals = [int64(0)] * 4
        self.core.break_realtime()
        if condition == 1:
            self.node_a.cool_sw.on()
            self.node_a.repump_sw.on()
            self.node_b.cool_sw.on()
            self.node_b.repump_sw.on()
            delay_mu(8)
        self.bsa.count_gates(self.gate_mu, self.gates, totals)
        self.core.break_realtime()
        self.node_a.idle()
        self.node_b.idle()
        self.store(condition, totals)

    def conditions_done(self) -> TInt32:
        """Conditions measured so far (a run resumed after a pause goes on with the next)."""
        return len(self.results)

    @kernel
    def run_kernel(self) -> TBool:
        """The conditions not yet measured; False if a pause (or termination) was requested
        before the last."""
        self.core.reset()
        self.entangler.init()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        first = self.conditions_done()
        for condition in range(first, 2):
            if condition > first and self.scheduler.check_pause():
                return False
            self.measure(condition)
        return True

    def run(self):
        try:
            run_until_complete(self, self.run_kernel, self.store_counts)
        except RTIOOverflow as e:
            raise count_overflow_error(
                e, "check the detectors and the light reaching them (dark counts are ~10-1000 s⁻¹)"
            ) from e

    def store_counts(self):
        """The counts taken so far (``dark.counts``, ``background.counts``, ``dark.duration_s``;
        also when terminated) and why the run ended (``totals.stop_reason``)."""
        self.set_dataset(STOP_REASON, self.stop_reason)
        self.set_dataset("dark.duration_s", float(self.duration_s()))
        if 0 in self.results:
            self.set_dataset("dark.counts", self.results[0])
        if 1 in self.results:
            self.set_dataset("background.counts", self.results[1])

    def duration_s(self):
        """Gated time per detector and condition, s."""
        return self.gates * self.gate_mu * self.core.ref_period

    def analyze(self):
        duration = self.duration_s()
        rate = self.results[0] / duration
        self.set_dataset("dark.rate_hz", rate)
        self.set_dataset("calib.bsa.dark_rate_hz", [float(r) for r in rate], persist=True)
        self.set_dataset("calib.bsa.dark_counts", [int(k) for k in self.results[0]], persist=True)
        self.set_dataset("calib.bsa.dark_duration_s", float(duration), persist=True)
        self.set_dataset("background.rate_hz", self.results[1] / duration)
