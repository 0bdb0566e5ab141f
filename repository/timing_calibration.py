# SPDX-License-Identifier: LGPL-3.0-or-later
"""Timing calibration: measure this Kasli's real CPU costs and store them for the simulator.

Each cost is the RTIO-counter time (mu) the CPU spends per operation, measured over ``repeats``
operations with ample slack (so the CPU never waits on the timeline), averaged:

- ``output_mu``: one TTL output event (``aux_out0``); ``input_read_mu``: one ``timestamp_mu`` on an
  empty input whose timeout has passed; ``counter_read_mu``: one ``get_rtio_counter_mu``;
  ``rpc_mu``: one synchronous RPC round trip; ``dma_playback_start_mu`` and
  ``dma_playback_per_event_mu``: playback by handle of a 1-event and a 41-event trace;
  ``min_pulse_period_mu``: the shortest ``pulse_mu(p/2); delay_mu(p/2)`` period sustained for
  ``repeats`` pulses without underflow (binary search, as ARTIQ's test_pulse_rate).

Stored as persistent scalars ``calib.timing.<name>`` (int mu), which
``sim.rtio.costs.CostProfile.from_dataset`` reads to calibrate the simulator's cost model. Harmless
to run at any time: only the spare TTL ``aux_out0`` and input ``aux_in0`` are touched.
"""
from numpy import int64

from artiq.experiment import *
from artiq.coredevice.exceptions import RTIOUnderflow

from drivers.link import SCHEMA_VERSION

KEYS = ["output_mu", "input_read_mu", "rpc_mu", "dma_playback_start_mu",
        "dma_playback_per_event_mu", "counter_read_mu", "min_pulse_period_mu"]


class TimingCalibration(EnvExperiment):
    """Timing calibration (CPU cost model)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.ttl_out = self.get_device("aux_out0")
        self.ttl_in = self.get_device("aux_in0")
        self.setattr_argument("repeats", NumberValue(100, precision=0, step=1, min=10, max=120,
                                                     type="int"),
                              tooltip="operations per measurement (<= 120: one SED lane)")

    def prepare(self):
        self.costs = {}
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "timing_calibration")

    @rpc(flags={"async"})
    def store(self, key: TStr, value: TInt64):
        self.costs[key] = int(value)

    def nop(self) -> TNone:
        pass

    @kernel
    def per_op(self, t0: TInt64) -> TInt64:
        return (self.core.get_rtio_counter_mu() - t0) // self.repeats

    @kernel
    def measure_basic(self):
        n = self.repeats
        self.core.break_realtime()
        delay(2 * ms)
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.ttl_out.set_o(i & 1 == 1)
            delay_mu(80)
        self.store("output_mu", self.per_op(t0))
        self.core.break_realtime()
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.ttl_in.timestamp_mu(int64(0))
        self.store("input_read_mu", self.per_op(t0))
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.core.get_rtio_counter_mu()
        self.store("counter_read_mu", self.per_op(t0))
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.nop()
        self.store("rpc_mu", self.per_op(t0))

    @kernel
    def measure_dma(self):
        with self.core_dma.record("timing_calibration.one"):
            self.ttl_out.on()
        with self.core_dma.record("timing_calibration.many"):
            for i in range(41):
                self.ttl_out.set_o(i & 1 == 1)
                delay_mu(80)
        one = self.core_dma.get_handle("timing_calibration.one")
        many = self.core_dma.get_handle("timing_calibration.many")
        n = 20
        self.core.break_realtime()
        delay(5 * ms)
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.core_dma.playback_handle(one)
            delay_mu(80)
        t_one = (self.core.get_rtio_counter_mu() - t0) // n
        self.core.break_realtime()
        delay(5 * ms)
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.core_dma.playback_handle(many)
        t_many = (self.core.get_rtio_counter_mu() - t0) // n
        self.store("dma_playback_start_mu", t_one)
        self.store("dma_playback_per_event_mu", (t_many - t_one) // 40)

    @kernel
    def pulses_ok(self, period: TInt64) -> TBool:
        self.core.break_realtime()
        try:
            for i in range(self.repeats * 10):
                self.ttl_out.pulse_mu(period >> 1)
                delay_mu(period >> 1)
        except RTIOUnderflow:
            self.core.break_realtime()
            return False
        return True

    @kernel
    def measure_pulse_rate(self):
        lo = int64(16)
        hi = int64(65536)
        while hi - lo > 8:
            mid = ((lo + hi) >> 1) & ~7
            if self.pulses_ok(mid):
                hi = mid
            else:
                lo = mid
        self.store("min_pulse_period_mu", hi)

    @kernel
    def run(self):
        self.core.reset()
        self.ttl_in.input()
        delay(10 * us)
        self.measure_basic()
        self.measure_dma()
        self.measure_pulse_rate()
        self.core.break_realtime()
        self.ttl_out.off()

    def analyze(self):
        for key in KEYS:
            if key in self.costs:
                self.set_dataset("calib.timing." + key, max(0, self.costs[key]), persist=True)
