# SPDX-License-Identifier: LGPL-3.0-or-later
"""The gateware-heralded entanglement loop's configuration, shared by the experiments that herald
with the entangler core (RemoteEntanglement, RemoteGate): a mixin for a
:class:`drivers.link.LinkExperiment` with the entangler's arguments (cycle, run, pump window,
excitation time, pause checks), their conversion to mu with the gate window of the single-photon
calibration and the herald bound, the entangler's setup and the re-cooling DMA trace.
"""

from artiq.experiment import *
from numpy import int32, int64

from drivers.arguments import ArgumentValueError
from drivers.bsa import HERALD_PATTERNS
from drivers.entangler import GATE_DET0, OUT_EXCITE_A, OUT_EXCITE_B, OUT_PUMP_A, OUT_PUMP_B
from drivers.link_timing import (
    CHECK_EVERY,
    CYCLE_MAX_MU,
    CYCLE_MIN_MU,
    RUN_MAX_CYCLES,
    link_default,
    nearest_mu,
)
from drivers.no_herald import ClickCounts

__all__ = ["GatewareLoop"]


class GatewareLoop:
    """Mixin (before :class:`drivers.link.LinkExperiment`): the entangler core's loop."""

    def build_gateware(self):
        """The entangler and the arguments of its loop (call in ``build``)."""
        self.setattr_device("entangler")
        self.setattr_argument(
            "cycle_length",
            NumberValue(link_default(self, "cycle_s"), unit="us", min=0.096 * us, max=8.176 * us),
            group="entangler",
            tooltip="attempt cycle (8 ns steps; default: calib.link.cycle_s)",
        )
        self.setattr_argument(
            "run_duration",
            NumberValue(link_default(self, "run_s"), unit="us", min=1 * us),
            group="entangler",
            tooltip="entangler run before re-cooling (default: calib.link.run_s)",
        )
        self.build_pulse_timing("entangler")
        self.setattr_argument(
            "check_every",
            NumberValue(CHECK_EVERY, precision=0, step=1, min=1, type="int"),
            group="entangler",
            tooltip="entangler runs between pause checks (made between heralds or shots, or "
            "inside a wait for a herald that lasts this long)",
        )

    def prepare_gateware(self):
        """The entangler loop's timing in mu and the herald bound (call in ``prepare``, after
        the nodes' calibrations are loaded)."""

        def s2mu(x):
            return nearest_mu(self.core, x)

        t = {
            "cycle_s": self.cycle_length,
            "run_s": self.run_duration,
            "pump_start_s": self.pump_start,
            "pump_stop_s": self.pump_stop,
            "excite_time_s": self.excite_time,
        }
        self.cycle_mu = int64(s2mu(t["cycle_s"])) & ~7
        if not CYCLE_MIN_MU <= self.cycle_mu <= CYCLE_MAX_MU:
            raise ArgumentValueError(
                "cycle length {:.0f} ns outside the entangler's {}..{} ns".format(
                    t["cycle_s"] * 1e9, CYCLE_MIN_MU, CYCLE_MAX_MU
                )
            )
        if not 1 <= s2mu(t["run_s"]) // self.cycle_mu < RUN_MAX_CYCLES:
            raise ArgumentValueError(
                "run_duration {:.3g} s: must be at least one cycle and below {} cycles "
                "(14-bit cycle counter)".format(t["run_s"], RUN_MAX_CYCLES)
            )
        self.run_mu = int64(s2mu(t["run_s"]))
        self.pump_start_mu = int32(s2mu(t["pump_start_s"]))
        self.pump_stop_mu = int32(s2mu(t["pump_stop_s"]))
        self.excite_mu = int32(s2mu(t["excite_time_s"])) & ~7
        self.excite_len_mu = int32(max(self.node_a.t_excite_mu, self.node_b.t_excite_mu))
        self.check_pulse_windows(self.pump_start_mu, self.pump_stop_mu, self.excite_mu)
        # gate window relative to the excitation pulse start (single-photon calibration)
        gate0 = int32(self.get_dataset("calib.photon.gate_start_mu", 0))
        gate1 = int32(self.get_dataset("calib.photon.gate_stop_mu", 60))
        self.gate_start_mu = int32(self.excite_mu + gate0)
        self.gate_stop_mu = int32(self.excite_mu + gate1)
        if self.gate_stop_mu >= self.cycle_mu:
            raise ArgumentValueError(
                "the gate window [{}, {}) ns (excite_time {} ns + calib.photon.gate_start/stop_mu)"
                " ends after the {} ns cycle: lengthen the cycle (calib.link.cycle_s, "
                "cycle_length) or excite earlier".format(
                    self.gate_start_mu, self.gate_stop_mu, self.excite_mu, self.cycle_mu
                )
            )
        self.prepare_herald_timeout(gate1 - gate0)
        self.heralds = HERALD_PATTERNS
        # cycles of a run that times out: the gateware ends it at the end of the cycle in which
        # the timeout (coarse ticks) expires
        self.timeout_cycles = int32(-(-(self.run_mu >> 3) // (self.cycle_mu >> 3)))
        self.kernel_invariants |= {
            "cycle_mu",
            "run_mu",
            "pump_start_mu",
            "pump_stop_mu",
            "excite_mu",
            "excite_len_mu",
            "gate_start_mu",
            "gate_stop_mu",
            "heralds",
            "check_every",
            "timeout_cycles",
        }

    @kernel
    def setup_entangler(self):
        """Cycle length, output windows (pump, excite per node), gates and herald patterns.
        Advances the cursor by 10 coarse cycles."""
        e = self.entangler
        e.init()
        e.set_cycle_length_mu(int32(self.cycle_mu))
        e.set_timing_mu(OUT_PUMP_A, self.pump_start_mu, self.pump_stop_mu)
        e.set_timing_mu(OUT_PUMP_B, self.pump_start_mu, self.pump_stop_mu)
        e.set_timing_mu(OUT_EXCITE_A, self.excite_mu, self.excite_mu + self.excite_len_mu)
        e.set_timing_mu(OUT_EXCITE_B, self.excite_mu, self.excite_mu + self.excite_len_mu)
        for i in range(4):
            e.set_timing_mu(GATE_DET0 + i, self.gate_start_mu, self.gate_stop_mu)
        e.set_heralds(self.heralds)

    @kernel
    def report_clicks(self):
        """Read the entangler's input counters (cycles of the last run in which each detector
        clicked) and send them to the host (:meth:`clicks_measured`): what a run that gives up
        without a herald measured of the light. Consumes all slack, re-establishing the margin
        after each read (:meth:`~drivers.link.LinkExperiment.resync`)."""
        clicks = [0] * 4
        for i in range(4):
            clicks[i] = self.entangler.get_input_count(i)
            self.resync()
        self.clicks_measured(clicks)

    @rpc(flags={"async"})
    def clicks_measured(self, clicks: TList(TInt32)):
        """The detectors' clicking cycles in the last run before the kernel gave up without a
        herald (:meth:`report_clicks`), for :class:`drivers.no_herald.NoHeraldError`'s message."""
        self.last_run_clicks = ClickCounts(
            [int(c) for c in clicks], int(self.timeout_cycles), "cycles", 0
        )

    @kernel
    def record_cooling(self):
        """Record the re-cooling of both nodes (in parallel) to DMA (``IonNode.recool_mu``: one
        coarse cycle without re-cooling). Does not move the cursor."""
        with self.core_dma.record("remote_entanglement.cool"):
            t0 = now_mu()
            self.node_a.recool_mu(self.t_cool_mu)
            at_mu(t0)
            self.node_b.recool_mu(self.t_cool_mu)
