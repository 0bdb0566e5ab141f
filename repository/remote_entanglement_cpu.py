# SPDX-License-Identifier: LGPL-3.0-or-later
"""Remote entanglement with CPU heralding, for labs without the entangler gateware.

Same physics, settings, datasets and modes as ``remote_entanglement.py`` (``ionlink.heralding`` =
``"cpu"``). One attempt (pump both ions, excite both, open the four detector gates) is one DMA trace
played by handle; the CPU then reads the first-click timestamp of each detector
(``timestamp_mu``), builds the click pattern and decides before the next attempt. The attempts
until a herald are one driver call, ``bsa.attempts_until_herald_mu``: after a click that is not a
herald (one detector, dark counts) it re-establishes the slack and goes on, as after an attempt
without a click (the simulator executes runs of attempts without a click in one step). Every
``attempts_per_cool`` attempts both ions are re-cooled (DMA).

How fast: the CPU has to wait until the gate has closed plus the input latency (104 mu), read four
inputs, and play the next trace with enough slack. On Kasli (rv32g, 125 MHz) this is a few us per
attempt, so the attempt period is set by the CPU, not by ``cycle_length``: expect several times
fewer attempts per second than the gateware path (``ionlink-sim budget LAB --path cpu`` predicts
it, ``drivers.cpu_link_timing``; ``benchmarks/attempt_rate.py`` measures it in the simulator with
the Kasli cost model). Lower ``slack_margin`` until underflows appear
(``totals.underflows_recovered``) to find the limit of a given Kasli.
"""

from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.experiment import *
from numpy import int32, int64

from drivers.arguments import ArgumentValueError
from drivers.bsa import GATE_INPUT_OFFSET_MU, UNDERFLOW, psi_of_pattern
from drivers.cpu_link_timing import CHECK_EVERY, CPU_MARGIN_S
from drivers.link import LinkExperiment
from drivers.link_timing import link_default, nearest_mu
from drivers.no_herald import ClickCounts


class RemoteEntanglementCPU(LinkExperiment, EnvExperiment):
    """Remote entanglement (CPU heralding)"""

    def build(self):
        self.build_link(default_margin=CPU_MARGIN_S)
        self.setattr_argument(
            "cycle_length",
            NumberValue(link_default(self, "cycle_s"), unit="us", min=0.1 * us),
            group="attempt",
            tooltip="length of the recorded attempt trace (default: calib.link.cycle_s)",
        )
        self.setattr_argument(
            "attempts_per_cool",
            NumberValue(0, precision=0, step=1, min=0, type="int"),
            group="attempt",
            tooltip="attempts between two coolings; 0: calib.link.run_s / cycle (the gateware's "
            "run, 191 x 1.05 us >= 200 us)",
        )
        self.build_pulse_timing("attempt")
        self.setattr_argument(
            "check_every",
            NumberValue(CHECK_EVERY, precision=0, step=1, min=1, type="int"),
            group="attempt",
            tooltip="attempts between pause checks (at the next cooling)",
        )

    def prepare(self):
        self.check_arguments()
        self.prepare_link("cpu")

        def s2mu(x):
            return nearest_mu(self.core, x)

        t = {
            "cycle_s": self.cycle_length,
            "pump_start_s": self.pump_start,
            "pump_stop_s": self.pump_stop,
            "excite_time_s": self.excite_time,
        }
        self.cycle_mu = int64(s2mu(t["cycle_s"]))
        if self.cycle_mu <= 0:
            raise ArgumentValueError("argument 'cycle_length' must be positive")
        if self.attempts_per_cool <= 0:
            run_mu = s2mu(link_default(self, "run_s"))
            self.attempts_per_cool = max(1, int(-(-run_mu // self.cycle_mu)))
        self.pump_start_mu = int64(s2mu(t["pump_start_s"]))
        self.pump_stop_mu = int64(s2mu(t["pump_stop_s"]))
        self.excite_mu = int64(s2mu(t["excite_time_s"]))
        self.check_pulse_windows(self.pump_start_mu, self.pump_stop_mu, self.excite_mu)
        gate0 = int64(self.get_dataset("calib.photon.gate_start_mu", 0))
        gate1 = int64(self.get_dataset("calib.photon.gate_stop_mu", 60))
        self.gate_start_mu = self.excite_mu + gate0
        self.gate_len_mu = gate1 - gate0
        self.gate_end_mu = self.gate_start_mu + self.gate_len_mu
        if self.gate_end_mu >= self.cycle_mu:
            raise ArgumentValueError(
                "the gate window [{}, {}) ns (excite_time + calib.photon.gate_start/stop_mu) ends "
                "after the {} ns cycle: lengthen cycle_length (calib.link.cycle_s)".format(
                    self.gate_start_mu, self.gate_end_mu, self.cycle_mu
                )
            )
        self.prepare_herald_timeout(gate1 - gate0)
        # the detector sensitivity switches GATE_INPUT_OFFSET_MU (88 mu) before the click
        # timestamps it registers: the gate registers timestamps in [gate_start, gate_end)
        self.sens_start_mu = self.gate_start_mu - GATE_INPUT_OFFSET_MU
        self.sens_end_mu = self.gate_end_mu - GATE_INPUT_OFFSET_MU
        if self.sens_start_mu < 0:
            raise ArgumentValueError(
                "the gate window [{}, {}) ns starts less than {} ns into the cycle (the "
                "detectors' gates open that long before it): excite later".format(
                    self.gate_start_mu, self.gate_end_mu, GATE_INPUT_OFFSET_MU
                )
            )
        self.kernel_invariants |= {
            "cycle_mu",
            "pump_start_mu",
            "pump_stop_mu",
            "excite_mu",
            "gate_start_mu",
            "gate_len_mu",
            "gate_end_mu",
            "sens_start_mu",
            "sens_end_mu",
            "attempts_per_cool",
            "check_every",
            "dead_attempts",
        }

    def run(self):
        self.run_link(self.run_kernel)

    @kernel
    def record_traces(self):
        """Record the cooling and the attempt traces. Does not move the cursor."""
        with self.core_dma.record("remote_entanglement_cpu.cool"):
            t0 = now_mu()
            self.node_a.recool_mu(self.t_cool_mu)
            at_mu(t0)
            self.node_b.recool_mu(self.t_cool_mu)
        with self.core_dma.record("remote_entanglement_cpu.attempt"):
            # events in time order: DMA submits them one by one (~80 mu each on Kasli) after its
            # start cost, so the slack needed is start + 16 events - the last event's offset
            t0 = now_mu()
            at_mu(t0 + self.pump_start_mu)
            self.node_a.pump_sw.on()
            self.node_b.pump_sw.on()
            at_mu(t0 + self.pump_stop_mu)
            self.node_a.pump_sw.off()
            self.node_b.pump_sw.off()
            at_mu(t0 + self.sens_start_mu)
            self.bsa.gate_rising_mu(self.gate_len_mu)
            at_mu(t0 + self.excite_mu)
            self.node_a.excite_ttl.on()
            self.node_b.excite_ttl.on()
            at_mu(t0 + self.excite_mu + self.node_a.t_excite_mu)
            self.node_a.excite_ttl.off()
            at_mu(t0 + self.excite_mu + self.node_b.t_excite_mu)
            self.node_b.excite_ttl.off()
            at_mu(t0 + self.cycle_mu)

    @kernel
    def relative_timestamps(self, ts: TList(TInt64), t_att: TInt64):
        """Make the click timestamps ``ts`` (mu, -1 for none) relative to the attempt's start
        ``t_att``. No timeline effect."""
        for k in range(4):
            if ts[k] >= 0:
                ts[k] = ts[k] - t_att

    @kernel
    def attempt_block(
        self, attempt, since_cool: TInt32, attempts: TInt64, ts: TList(TInt64)
    ) -> TTuple([TInt32, TInt32, TInt64]):
        """Attempts until a herald, at most until the next cooling or the herald timeout:
        ``(attempts made, pattern, start of the last)`` of ``bsa.attempts_until_herald_mu``
        (clicks that are not a herald in between: the slack re-established after each, as
        after an attempt without a click). Timeline as that."""
        n = self.attempts_per_cool - since_cool
        if self.dead_attempts - attempts < int64(n):
            n = int32(self.dead_attempts - attempts)
        return self.bsa.attempts_until_herald_mu(attempt, self.sens_end_mu, self.margin_mu, n, ts)

    @kernel
    def count_clicks(self, cool, attempt, attempts: TInt64):
        """After the herald timeout (``attempts`` without a herald reached the bound; else
        nothing) and the loop's totals: one cooling and ``attempts_per_cool`` more attempts (an
        underflowed one among them: the slack re-established, not retried), counting in how many
        each detector clicked in its gate and how many clicked as a herald pattern, sent to the
        host (:meth:`clicks_counted`): the CPU path's reads for
        :class:`drivers.no_herald.NoHeraldError`'s message, as the entangler's input counters
        are the gateware path's; none in the heralding loop. Timeline: the cooling and the
        attempts."""
        if attempts < self.dead_attempts:
            return
        clicks = [0] * 4
        ts = [int64(-1)] * 4
        heralds = 0
        self.renew_slack()  # (the RPCs before)
        if self.t_cool_mu > 0:
            self.core_dma.playback_handle(cool)
        n = 0
        while n < self.attempts_per_cool:
            done, pattern, t_att = self.bsa.attempts_until_click_mu(
                attempt, self.sens_end_mu, self.margin_mu, self.attempts_per_cool - n, ts
            )
            if pattern == UNDERFLOW:
                n += done + 1
                self.renew_slack()
                self.bsa.drain()
                self.renew_slack()
                continue
            n += done
            for k in range(4):
                if pattern & (1 << k):
                    clicks[k] += 1
            if psi_of_pattern(pattern) != 0:
                heralds += 1
            self.resync()
        self.clicks_counted(clicks, n, heralds)

    @rpc(flags={"async"})
    def clicks_counted(self, clicks: TList(TInt32), attempts: TInt32, heralds: TInt32):
        """What :meth:`count_clicks` counted, for :class:`drivers.no_herald.NoHeraldError`'s
        message: the attempts in which each detector clicked, of ``attempts``."""
        self.last_run_clicks = ClickCounts(
            [int(c) for c in clicks], int(attempts), "attempts", int(heralds)
        )

    @kernel
    def run_kernel(self):
        self.core.reset()
        self.record_traces()
        cool = self.core_dma.get_handle("remote_entanglement_cpu.cool")
        attempt = self.core_dma.get_handle("remote_entanglement_cpu.attempt")
        self.renew_slack()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        ts = [int64(-1)] * 4
        t_lab0 = now_mu()
        self.loop_started(t_lab0)
        attempts_total = int64(0)
        underflows = 0
        discarded = 0
        herald_mu = int64(0)  # timeline spent on analysis, readout and diagnostics
        attempts = int64(0)  # attempts since the last recorded herald
        since_cool = 0
        coolings = 0
        since_check = 0
        i = self.next_index
        s_phases = -1
        stop = False
        while i < self.n_total and not stop:
            s = i // self.heralds_per_setting
            if s != s_phases:
                # the DDS keeps the phases (continuous phase mode): program them only when the
                # setting changes; the SPI writes cost more CPU than timeline, so re-establish
                # the slack afterwards
                try:
                    self.set_analysis_phases(s)
                    s_phases = s
                    self.resync()
                except RTIOUnderflow:
                    # the write may have been cut short inside an AD9910 serial cycle
                    underflows += 1
                    self.renew_slack()
                    self.reset_dds_io()
                    continue
            heralded = False
            pattern = 0
            t_att = int64(0)
            while not heralded and not stop:
                try:
                    if since_cool == 0:
                        coolings += 1
                        if self.t_cool_mu > 0:  # none with continuous cooling
                            self.core_dma.playback_handle(cool)
                        if since_check >= self.check_every:
                            # while the cooling plays: the RPC costs lab time only beyond it
                            since_check = 0
                            stop = self.should_stop(now_mu() - t_lab0)
                            self.resync()
                            if stop:
                                continue
                    done, pattern, t_att = self.attempt_block(attempt, since_cool, attempts, ts)
                    attempts += int64(done)
                    attempts_total += int64(done)
                    since_cool = (since_cool + done) % self.attempts_per_cool
                    since_check += done
                    if pattern == UNDERFLOW:
                        underflows += 1
                        since_check += 1
                        self.renew_slack()
                        self.bsa.drain()
                        self.renew_slack()
                        since_cool = 0
                    elif psi_of_pattern(pattern) != 0:
                        heralded = True
                    else:
                        # the block ended (cooling or herald timeout) on a click that is not a
                        # herald, or without a click (then a no-op): re-establish the slack
                        self.resync()
                        if attempts >= self.dead_attempts:
                            self.no_herald(attempts)
                            stop = True
                except RTIOUnderflow:
                    underflows += 1
                    since_check += 1
                    self.renew_slack()
                    self.bsa.drain()
                    self.renew_slack()
                    since_cool = 0
            if not heralded:
                break
            t_end_att = now_mu()
            try:
                self.resync()
                t_end = self.analyse_and_read(s)
                counts_a = self.node_a.fetch_counts(t_end)
                counts_b = self.node_b.fetch_counts(t_end)
                self.relative_timestamps(ts, t_att)
                self.record_herald(
                    s, pattern, ts[0], ts[1], ts[2], ts[3], attempts, t_end_att, counts_a, counts_b
                )
                attempts = int64(0)
                i += 1
                since_cool = 0
                self.resync()
            except RTIOUnderflow:
                underflows += 1
                discarded += 1
                self.recover()
                since_cool = 0
            herald_mu += now_mu() - t_end_att
        self.add_totals(
            attempts_total,
            now_mu() - t_lab0,
            attempts_total * self.cycle_mu,
            underflows,
            discarded,
            herald_mu,
            coolings,
        )
        self.count_clicks(cool, attempt, attempts)  # (after the totals: not the loop's)
