# SPDX-License-Identifier: LGPL-3.0-or-later
"""Remote entanglement with gateware heralding (entangler core).

What it does: cools both ions, lets the entangler core repeat attempt cycles (pump, excite, gate the
four Bell-state-analyser detectors) until a two-photon herald or the run timeout, re-cools and
runs again until a herald. After a herald it rotates both ions into the analysis basis (pulses only;
the phases were programmed before the attempts, once per setting: the qubit drives keep them), reads
both out, stores one raw record, and starts over. Modes: ``z`` (ZZ correlations), ``parity`` (both
ions pi/2 at phase phi, ``parity_points`` phases) and ``tomography`` (the nine Pauli settings);
``heralds_per_setting`` heralds each.

Before running: the Startup experiment (DDS/attenuators/idle beams), Readout calibration
(thresholds) and Single-photon generation (gate window ``calib.photon.gate_*``) must have stored
their persistent datasets; the qubit pi time comes from ``calib.node_X.qubit.pi_time``. The loop
timing (cycle, run, cooling, pump window, excitation time) comes from the arguments, whose defaults
are the lab's ``calib.link.*`` datasets (``drivers.link_timing``).
A link that gives no herald in ``herald_timeout`` attempts (default 50/P, P expected from the
single-photon calibration) stops with :class:`drivers.no_herald.NoHeraldError`, its data written.

Per herald it records pattern, detector timestamps, attempts spent, analysis setting and both
readouts; totals: attempts, heralds, lab time, duty cycle, underflows recovered (schema:
docs/datasets.md). Dashboard: ``progress``, ``live.herald_rate``, ``live.psi_plus/minus``,
``live.fidelity``. Pause and termination are honoured between runs.
"""

from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.experiment import *
from numpy import int64

from drivers.bsa import pattern_of_slots
from drivers.entangler import TIMEOUT, UNDERFLOW
from drivers.gateware_loop import GatewareLoop
from drivers.link import LinkExperiment


class RemoteEntanglement(GatewareLoop, LinkExperiment, EnvExperiment):
    """Remote entanglement (entangler-core heralding)"""

    def build(self):
        self.build_link()
        self.build_gateware()

    def prepare(self):
        self.check_arguments()
        self.prepare_link("gateware")
        self.prepare_gateware()

    def run(self):
        self.run_link(self.run_kernel)

    @kernel
    def read_timestamps(self, pattern: TInt32, ts: TList(TInt64)):
        """Fill ``ts[k]`` with the entangler's timestamp of gate input ``k`` (mu) for the gates in
        ``pattern``, -1 for the others. Each read first re-establishes the slack, then consumes
        all of it."""
        for k in range(4):
            ts[k] = int64(-1)
            if pattern & (1 << k):
                self.resync()
                ts[k] = int64(self.entangler.get_timestamp_mu(k))

    @kernel
    def run_kernel(self):
        self.core.reset()
        self.record_cooling()
        cool = self.core_dma.get_handle("remote_entanglement.cool")
        self.renew_slack()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        self.setup_entangler()
        ts = [int64(-1)] * 4
        t_lab0 = now_mu()
        self.loop_started(t_lab0)
        attempts_total = int64(0)
        cycles_total = int64(0)
        underflows = 0
        discarded = 0
        herald_mu = int64(0)  # timeline spent on analysis, readout and diagnostics
        attempts = int64(0)  # attempts since the last recorded herald
        i = self.next_index
        runs = 0
        next_check = self.check_every
        s_phases = -1  # the setting whose phases the qubit drives hold (-1: not known)
        stop = False
        while i < self.n_total and not stop:
            s = i // self.heralds_per_setting
            if s != s_phases:
                # the DDS keeps the phases (continuous phase mode; nothing in the loop, the
                # herald handling or recover() writes the qubit drives): program them only when
                # the setting changes, and at every kernel start (another experiment may have
                # set the drives while this one was paused). An underflow in the writes leaves
                # s_phases unchanged, so the retry writes both again.
                try:
                    self.set_analysis_phases(s)
                    s_phases = s
                    self.resync()  # the SPI writes cost more CPU than they take on the timeline
                except RTIOUnderflow:
                    # the write may have been cut short inside an AD9910 serial cycle
                    underflows += 1
                    self.renew_slack()
                    self.reset_dds_io()
                    continue
            heralded = False
            end_mu = int64(0)
            reason = 0
            while not heralded and not stop:
                max_runs = next_check - runs
                dry_runs = int((self.dead_attempts - attempts) // int64(self.timeout_cycles)) + 1
                if dry_runs < max_runs:
                    max_runs = dry_runs
                end_mu, reason, timeouts = self.entangler.run_until_herald_mu(
                    cool, self.run_mu, self.margin_mu, max_runs, True
                )
                runs += timeouts
                attempts += int64(timeouts) * int64(self.timeout_cycles)
                attempts_total += int64(timeouts) * int64(self.timeout_cycles)
                cycles_total += int64(timeouts) * int64(self.timeout_cycles) * self.cycle_mu
                if reason == UNDERFLOW:
                    underflows += 1
                    runs += 1
                    self.renew_slack()
                elif reason != TIMEOUT:
                    heralded = True
                    runs += 1
                if not heralded and attempts >= self.dead_attempts:
                    self.report_clicks()
                    self.no_herald(attempts)
                    stop = True
                    self.renew_slack()  # (the RPC's CPU time, before the last write)
                if not heralded and runs >= next_check:
                    next_check = runs + self.check_every
                    stop = self.should_stop(now_mu() - t_lab0)
                    self.renew_slack()
            if not heralded:
                break
            # herald: analysis pulses and readout first, diagnostic reads afterwards (the
            # entangler keeps the counters and timestamps until the next run starts)
            try:
                t_end = self.analyse_and_read(s)
                counts_a = self.node_a.fetch_counts(t_end)
                counts_b = self.node_b.fetch_counts(t_end)
                self.resync()  # the blocking count consumed the slack
                n = self.entangler.get_ncycles()
                attempts += int64(n)
                attempts_total += int64(n)
                cycles_total += int64(n) * self.cycle_mu
                pattern = pattern_of_slots(reason)
                self.read_timestamps(pattern, ts)
                self.record_herald(
                    s, pattern, ts[0], ts[1], ts[2], ts[3], attempts, end_mu, counts_a, counts_b
                )
                attempts = int64(0)
                i += 1
                self.resync()
            except RTIOUnderflow:
                # the ions' state is lost: count the herald as discarded, keep its attempts
                underflows += 1
                discarded += 1
                self.recover()
            herald_mu += now_mu() - end_mu
            if runs >= next_check and i < self.n_total:
                next_check = runs + self.check_every
                stop = self.should_stop(now_mu() - t_lab0)
                self.renew_slack()
        self.entangler.set_config(False, True)
        self.add_totals(
            attempts_total, now_mu() - t_lab0, cycles_total, underflows, discarded, herald_mu, runs
        )
