# SPDX-License-Identifier: LGPL-3.0-or-later
"""Timing calibration: measure this Kasli's real CPU costs and store them for the simulator.

Each cost is the RTIO-counter time (mu) the CPU spends per operation, measured over ``repeats``
operations with ample slack and never more than one SED lane's worth (128) of queued events (so the
CPU never waits on the timeline or on a full lane), averaged, less the closing counter read and the
cursor arithmetic (``delay_mu``, also stored), i.e. in the units of ``sim.rtio.costs.CostProfile``:

- ``output_mu``: one TTL output event (``aux_out0``); ``input_read_mu``: one ``timestamp_mu`` on an
  empty input whose timeout has passed; ``counter_read_mu``: one ``get_rtio_counter_mu``;
  ``rpc_mu``: one synchronous RPC round trip; ``dma_playback_start_mu`` and
  ``dma_playback_per_event_mu``: playback by handle of a 1-event and a 41-event trace (fixed part
  and per-event part); ``delay_mu``: one cursor step;
  ``min_pulse_period_mu``: the shortest ``pulse_mu(p/2); delay_mu(p/2)`` period p sustained for
  ``10 * repeats`` pulses from 1 us of slack without underflow (binary search to 8 mu; ARTIQ's
  test_pulse_rate bounds p/2 to 100-480 ns on RISC-V Kaslis).

Stored as persistent scalars ``calib.timing.<name>`` (int mu), which
``sim.rtio.costs.CostProfile.from_dataset`` reads to calibrate the simulator's cost model.

The spread of the costs: each operation of ``drivers.timing_spread.SPREAD_KEYS`` (output, input
read, counter read, RPC, DMA playback start) is also timed on its own ``repeats`` times (counter
read, operation, counter read); the samples are archived as ``timing.samples.<name>`` and their
fitted spread (``drivers.timing_spread.fit_spread``: core standard deviation, probability and mean
excess of slow events) stored as persistent ``calib.timing.<name>_sd_mu``, ``_p_slow`` and
``_slow_mu``, which ``sim.rtio.cost_spread.CostSpread.from_dataset`` reads, with the slow events'
95 % intervals ``_p_slow_ci``, ``_slow_mu_ci`` and the number of samples ``_samples``
(``drivers.timing_spread.slow_events``). Harmless to run at any
time: only the spare TTL ``aux_out0`` and input ``aux_in0`` are touched.
"""

from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.experiment import *
from numpy import int64

from drivers.arguments import CheckedArguments
from drivers.calibration import refused
from drivers.link import SCHEMA_VERSION
from drivers.timing_spread import (
    SPREAD_KEYS,
    fit_spread,
    slow_event_datasets,
    slow_events,
    spread_datasets,
)

KEYS = [
    "output_mu",
    "input_read_mu",
    "rpc_mu",
    "dma_playback_start_mu",
    "dma_playback_per_event_mu",
    "counter_read_mu",
    "min_pulse_period_mu",
    "delay_mu",
]


class TimingCalibration(CheckedArguments, EnvExperiment):
    """Timing calibration (CPU cost model)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.ttl_out = self.get_device("aux_out0")
        self.ttl_in = self.get_device("aux_in0")
        self.setattr_argument(
            "repeats",
            NumberValue(100, precision=0, step=1, min=10, max=120, type="int"),
            tooltip="operations per measurement (<= 120: one SED lane)",
        )

    def prepare(self):
        self.check_arguments()
        self.costs = {}
        self.samples = {}
        self.read_overhead = int64(0)
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "timing_calibration")

    @rpc(flags={"async"})
    def store(self, key: TStr, value: TInt64):
        self.costs[key] = int(value)

    @rpc(flags={"async"})
    def store_samples(self, key: TStr, samples: TList(TInt64)):
        self.samples[key] = [int(x) for x in samples]

    @rpc
    def nop(self) -> TNone:
        """Empty synchronous RPC: its round trip is what the loop measures."""

    @kernel
    def per_op(self, t0: TInt64, n: TInt32) -> TInt64:
        """CPU time per operation since ``t0`` over ``n`` operations, less the cost of the counter
        read that closes the interval (``self.read_overhead``), rounded to the nearest mu."""
        dt = self.core.get_rtio_counter_mu() - t0 - self.read_overhead
        return (dt + (n >> 1)) // n

    @kernel
    def settle(self):
        """Wait until every event already submitted has left the SED lanes (a lane holds 128), then
        give ample slack (the CPU must never wait on a full lane during a measurement)."""
        self.core.wait_until_mu(now_mu())
        self.core.break_realtime()

    @kernel
    def measure_basic(self):
        n = self.repeats
        self.core.break_realtime()
        # the interval [t0, t1] of two back-to-back counter reads is one counter read
        t0 = self.core.get_rtio_counter_mu()
        t1 = self.core.get_rtio_counter_mu()
        self.read_overhead = t1 - t0
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.core.get_rtio_counter_mu()
        self.store("counter_read_mu", self.per_op(t0, n))
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            delay_mu(80)
        t_delay = self.per_op(t0, n)
        self.store("delay_mu", t_delay)
        self.settle()
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):  # n <= 120 events on one channel: one SED lane, never full
            self.ttl_out.set_o(i & 1 == 1)
            delay_mu(80)
        self.store("output_mu", self.per_op(t0, n) - t_delay)
        self.settle()
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.ttl_in.timestamp_mu(int64(0))
        self.store("input_read_mu", self.per_op(t0, n))
        t0 = self.core.get_rtio_counter_mu()
        for i in range(n):
            self.nop()
        self.store("rpc_mu", self.per_op(t0, n))
        self.core.break_realtime()

    @kernel
    def measure_dma(self):
        with self.core_dma.record("timing_calibration.one"):
            self.ttl_out.on()
            delay_mu(80)
        with self.core_dma.record("timing_calibration.many"):
            for i in range(41):
                self.ttl_out.set_o(i & 1 == 1)
                delay_mu(80)
        one = self.core_dma.get_handle("timing_calibration.one")
        many = self.core_dma.get_handle("timing_calibration.many")
        # delay_mu cost inside playback_handle (the cursor advance by the trace length)
        t0 = self.core.get_rtio_counter_mu()
        for i in range(self.repeats):
            delay_mu(80)
        t_delay = self.per_op(t0, self.repeats)
        self.settle()
        t0 = self.core.get_rtio_counter_mu()
        for i in range(self.repeats):  # <= 120 one-event playbacks: one lane
            self.core_dma.playback_handle(one)
        t_one = self.per_op(t0, self.repeats) - t_delay
        # 41-event playbacks, three at a time (123 events fit in one 128-deep lane), lanes
        # drained between blocks so the CPU never stalls on a full lane
        blocks = (self.repeats + 2) // 3
        total = int64(0)
        for b in range(blocks):
            self.settle()
            t0 = self.core.get_rtio_counter_mu()
            for i in range(3):
                self.core_dma.playback_handle(many)
            total += self.core.get_rtio_counter_mu() - t0 - self.read_overhead
        t_many = (total + ((3 * blocks) >> 1)) // (3 * blocks) - t_delay
        per_event = (t_many - t_one + 20) // 40
        self.store("dma_playback_start_mu", t_one - per_event)
        self.store("dma_playback_per_event_mu", per_event)
        self.settle()

    @kernel
    def measure_spread(self):
        """Each operation of ``SPREAD_KEYS`` timed on its own ``repeats`` times: counter read,
        operation, counter read, less one counter read (``read_overhead``)."""
        n = self.repeats
        out = [int64(0)] * n
        one = self.core_dma.get_handle("timing_calibration.one")
        self.settle()
        for i in range(n):
            t0 = self.core.get_rtio_counter_mu()
            self.core.get_rtio_counter_mu()
            out[i] = self.core.get_rtio_counter_mu() - t0 - self.read_overhead
        self.store_samples("counter_read_mu", out)
        self.settle()
        for i in range(n):  # <= 120 events on one channel: one SED lane, never full
            t0 = self.core.get_rtio_counter_mu()
            self.ttl_out.set_o(i & 1 == 1)
            out[i] = self.core.get_rtio_counter_mu() - t0 - self.read_overhead
            delay_mu(80)
        self.store_samples("output_mu", out)
        self.settle()
        for i in range(n):
            t0 = self.core.get_rtio_counter_mu()
            self.ttl_in.timestamp_mu(int64(0))
            out[i] = self.core.get_rtio_counter_mu() - t0 - self.read_overhead
        self.store_samples("input_read_mu", out)
        for i in range(n):
            t0 = self.core.get_rtio_counter_mu()
            self.nop()
            out[i] = self.core.get_rtio_counter_mu() - t0 - self.read_overhead
        self.store_samples("rpc_mu", out)
        self.settle()
        for i in range(n):  # <= 120 one-event playbacks: one lane
            t0 = self.core.get_rtio_counter_mu()
            self.core_dma.playback_handle(one)
            out[i] = self.core.get_rtio_counter_mu() - t0 - self.read_overhead
        self.store_samples("dma_playback_start_mu", out)
        self.settle()

    @kernel
    def pulses_ok(self, period: TInt64) -> TBool:
        """``pulse_mu(period/2); delay_mu(period/2)`` sustained for ``10 * repeats`` pulses from a
        small initial slack (1 us): a period shorter than the CPU's cost per pulse drains that
        slack and underflows within the run (the initial slack covers < 1 mu of deficit per pulse
        over 1000 pulses), so the search converges on the CPU's sustained rate."""
        self.settle()
        at_mu(self.core.get_rtio_counter_mu() + 1000)
        try:
            for i in range(self.repeats * 10):
                self.ttl_out.pulse_mu(period >> 1)
                delay_mu(period >> 1)
        except RTIOUnderflow:
            return False
        return True

    @kernel
    def measure_pulse_rate(self):
        lo = int64(16)  # fails (or is assumed to)
        hi = int64(65536)  # passes
        while hi - lo > 8:
            mid = ((lo + hi) >> 1) & ~7
            if mid <= lo:
                mid = lo + 8
            if self.pulses_ok(mid):
                hi = mid
            else:
                lo = mid
        self.store("min_pulse_period_mu", hi)

    @kernel
    def run(self):
        self.core.reset()
        self.ttl_in.input()
        self.ttl_out.off()
        delay(10 * us)
        self.measure_basic()
        self.measure_dma()
        self.measure_spread()
        self.measure_pulse_rate()
        self.settle()
        self.ttl_out.off()

    def analyze(self):
        missing = [key for key in KEYS if key not in self.costs]
        if missing:
            raise refused("timing calibration", "not measured: " + ", ".join(missing))
        negative = ["{} = {}".format(key, self.costs[key]) for key in KEYS if self.costs[key] < 0]
        if negative:
            raise refused(
                "timing calibration",
                "negative cost (the measurement's own overhead "
                "was larger than what it measured): " + ", ".join(negative),
            )
        missing = [key for key in SPREAD_KEYS if len(self.samples.get(key, [])) < 2]
        if missing:
            raise refused("timing calibration", "spread not measured: " + ", ".join(missing))
        for key in KEYS:
            self.set_dataset("calib.timing." + key, self.costs[key], persist=True)
        for key in SPREAD_KEYS:
            self.set_dataset("timing.samples." + key, self.samples[key])
            for name, value in spread_datasets(key, fit_spread(self.samples[key])).items():
                self.set_dataset(name, value, persist=True)
            for name, value in slow_event_datasets(key, slow_events(self.samples[key])).items():
                self.set_dataset(name, value, persist=True)
