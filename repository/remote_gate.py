# SPDX-License-Identifier: LGPL-3.0-or-later
"""A remote gate: a CZ (or CNOT) between the memory qubits of the two nodes by gate teleportation.

What it does, per shot: cools both nodes; resets both memory qubits through their network ions
(copy memory → network ion, read it, flip the memory if it was |1⟩: a mid-circuit readout with
feed-forward); prepares the input states of the setting; lets the entangler core herald a Bell
pair of the network ions (gateware heralding, as RemoteEntanglement); then, in each node, a local
CNOT (node A: memory → network ion) or CZ (node B: network ion ↔ memory, the network ion then
rotated into the X basis) with the mixed-species gate; reads both network ions, and plays the
corrections on the memories, in the kernel, after reading the two bits (on a two-chassis
system this pays the DRTIO round trip): Z on memory B if node A's bit is 0, Z on memory A if
node B's bit differs from the herald's sign (ψ−: 1). Then the analysis rotations of the setting,
and both memories read through their network ions.

Modes: ``cz``; ``cnot`` (memory A controls memory B: the teleported CZ between R(π/2, ¾) and
R(π/2, ¼) of memory B); ``grover`` (two-qubit Grover search, two teleported CZs per shot: oracle
marking ``marked``, then the diffusion; success = reading the marked state). ``analysis``:
``process_tomography`` (16 inputs × 9 Pauli bases, ``heralds_per_setting`` shots each),
``truth_table`` (the computational inputs, Z basis) or ``direct_fidelity`` (60 settings: the
eigenstates of each Pauli P ≠ I read in the bases of U P U†; the process fidelity with a
smaller error than tomography's at the same shots). Settings: :mod:`drivers.gate_settings`.

``dd_pulses`` (even, default 0: none): an echo of the memories' quasi-static dephasing after
each teleported CZ's corrections: that many X π pulses on each memory, spaced by the memory's
free time T since its last rotation before the herald (measured on the timeline, so the random
wait for the herald is balanced; less one gate, during which the memory is in the local gate's
rotated frame): free evolutions +T, −T, …, +T, −T sum to zero. Phases about Z commute with the
teleported CZ, so the echo may follow it; it costs (dd_pulses − 1)·T of memory T2 (the budget's
"memory T2 during the echo"), and leaves the gate's rotated-frame share unechoed.

Before running: Startup, Readout calibration, Single photon (as RemoteEntanglement: without the
last two it runs with the defaults, warns, and lists what is missing in ``ionlink.uncalibrated``);
the memory drive and the gate duration come from ``calib.node_X.memory.*`` and
``calib.node_X.gate.duration`` (``drivers.circuit_node``). Results (docs/datasets.md,
``gate.*``): per shot the setting, herald patterns, network bits, memory readout counts and
bits, attempts, the feed-forward latency (herald → last correction, mu), the reset bits; the
settings tables with the input states' Bloch vectors and the bases' axes.

Pause and termination are honoured between shots, once ``check_every`` entangler runs have passed
since the last check (≈ 20 shots at ``oxford2025``: one RPC per ≈ 0.16 s of lab time, placed
before the shot's own ``renew_slack``), inside a wait for a herald that alone lasts
``check_every`` runs, and before the shot after one that underflowed; after
``drivers.link.UNDERFLOW_STREAK`` shots in a row that underflowed the run stops
(``UnderflowStreakError``, stop reason ``underflows``). A run stopped early writes the shots
taken (``totals.stop_reason``); a kernel that ended without sending its totals (an exception,
a run stopped at once) has its attempts and lab time counted to its last shot
(``loop_started``, ``totals.counted_to_last_herald``: as the link experiments,
``drivers.link``).
"""

import logging
from math import pi

import numpy as np
from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.experiment import *
from numpy import int32, int64

from drivers.analysis_settings import GATE_SCHEMA_VERSION
from drivers.arguments import ArgumentValueError
from drivers.bsa import pattern_of_slots, psi_of_pattern
from drivers.entangler import TIMEOUT, UNDERFLOW
from drivers.gate_settings import (
    BASIS_PULSES,
    GATE_MODES,
    PREP_PULSES,
    basis_axes,
    gate_settings,
    prep_bloch,
)
from drivers.gateware_loop import GatewareLoop
from drivers.link import SCHEMA_VERSION, UNDERFLOW_STREAK, LinkExperiment
from drivers.link_timing import drtio_margin_mu
from drivers.live import LivePublisher
from drivers.run_end import STOP_REASON

logger = logging.getLogger(__name__)

#: Smallest ``correction_delay`` (s). After reading the network ions the kernel plays what the
#: bits ask for (the reset's flips, the corrections, then the memories' next rotations): their
#: DDS writes cost more CPU time than they take on the timeline, so with less slack the shots
#: whose outcomes ask for more underflow and are retried. The shots kept are then selected by
#: their outcomes: at ``oxford2025`` (seed 1, truth table, 100 shots, Kasli 2.0 mean costs)
#: 1 us underflowed 555 times; every shot kept had a reset that read a memory as |1> and
#: flipped it (those of |00>: 8 % at 10 us), and |00> came out right in 0.52 of its shots (0.96
#: at 10 us). 1.5 and 2 us underflowed 39 times, 2.5 us none (seeds 1-3; with drawn costs 0-3
#: times per 100 shots, none at 4 us): a run that still underflowed says so
#: (:meth:`RemoteGate.write_results`).
MIN_CORRECTION_DELAY_S = 2.5e-6


class RemoteGate(GatewareLoop, LinkExperiment, EnvExperiment):
    """Remote gate (teleported CZ or CNOT between memory qubits, Grover)"""

    def build(self):
        self.build_link(modes=GATE_MODES)
        self.build_gateware()
        self.setattr_device("circuit_a")
        self.setattr_device("circuit_b")
        self.setattr_argument(
            "analysis",
            EnumerationValue(
                ["process_tomography", "truth_table", "direct_fidelity"], "process_tomography"
            ),
            tooltip="cz/cnot: 16 inputs x 9 bases, the computational inputs in Z, or the 15 "
            "Paulis' eigenstates in the bases of their images (direct fidelity estimation)",
        )
        self.setattr_argument(
            "correction_delay",
            NumberValue(10 * us, unit="us", min=0.0),
            tooltip="slack before the reset's flips and the corrections, after reading the "
            "network ions (at least 2.5 us, MIN_CORRECTION_DELAY_S: below, the shots whose "
            "outcomes ask for more feed-forward underflow and are retried, so the shots kept "
            "are selected by their outcomes)",
        )
        self.setattr_argument(
            "dd_pulses",
            NumberValue(0, precision=0, step=2, min=0, max=64, type="int"),
            tooltip="even number of X pi pulses on each memory after each teleported CZ, "
            "spaced by the memory's free time since its last rotation (0: none)",
        )

    def prepare(self):
        self.check_arguments()
        if self.correction_delay < MIN_CORRECTION_DELAY_S:
            raise ArgumentValueError(
                f"argument 'correction_delay' = {self.correction_delay * 1e6:g} us is below "
                f"{MIN_CORRECTION_DELAY_S * 1e6:g} us: the CPU time of a reset's flips or of the "
                "corrections after reading the network ions exceeds it, so the shots whose "
                "outcomes ask for them underflow and are retried and the shots kept are "
                "selected by their outcomes"
            )
        if self.dd_pulses % 2:
            raise ArgumentValueError(
                f"argument 'dd_pulses' = {self.dd_pulses} must be even (the echo ends in the "
                "memory's own frame)"
            )
        self.note_uncalibrated()
        for dev in (self.node_a, self.node_b, self.circuit_a, self.circuit_b):
            dev.load_calibration(self)
        s = gate_settings(self.mode, self.analysis)
        self.settings = s
        self.prep_theta_a = [PREP_PULSES[k][0] for k in s["prep_a"]]
        self.prep_phi_a = [PREP_PULSES[k][1] for k in s["prep_a"]]
        self.prep_theta_b = [PREP_PULSES[k][0] for k in s["prep_b"]]
        self.prep_phi_b = [PREP_PULSES[k][1] for k in s["prep_b"]]
        self.ana_theta_a = [BASIS_PULSES[k][0] for k in s["basis_a"]]
        self.ana_phi_a = [BASIS_PULSES[k][1] for k in s["basis_a"]]
        self.ana_theta_b = [BASIS_PULSES[k][0] for k in s["basis_b"]]
        self.ana_phi_b = [BASIS_PULSES[k][1] for k in s["basis_b"]]
        self.marked = [int32(m) for m in s["marked"]]
        self.n_settings = len(s["marked"])
        self.n_total = self.n_settings * self.heralds_per_setting
        self.is_grover = self.mode == "grover"
        self.is_cnot = self.mode == "cnot"
        self.t_cool_mu = int64(self.core.seconds_to_mu(float(self.cooling_time)))
        # a node on a DRTIO satellite: outputs need the link latencies on top of the margin
        # (as the link experiments; drivers.link), and its corrections go out over the link
        link_mu = drtio_margin_mu(self, (self.node_a, self.node_b))
        self.margin_mu = int64(self.core.seconds_to_mu(self.slack_margin) + link_mu)
        self.correction_mu = int64(self.core.seconds_to_mu(self.correction_delay) + link_mu)
        self.readout_delay_mu = int64(self.core.seconds_to_mu(self.readout_delay))
        self.frame_mu = int64(max(self.circuit_a.gate_mu, self.circuit_b.gate_mu))
        self.recover_mu = int64(
            2 * max(self.node_a.t_detect_mu, self.node_b.t_detect_mu)
            + 4 * max(self.circuit_a.gate_mu, self.circuit_b.gate_mu)
            + self.margin_mu
        )
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {
            "prep_theta_a",
            "prep_phi_a",
            "prep_theta_b",
            "prep_phi_b",
            "ana_theta_a",
            "ana_phi_a",
            "ana_theta_b",
            "ana_phi_b",
            "marked",
            "n_settings",
            "heralds_per_setting",
            "is_grover",
            "is_cnot",
            "t_cool_mu",
            "margin_mu",
            "correction_mu",
            "readout_delay_mu",
            "recover_mu",
            "dd_pulses",
            "frame_mu",
        }
        self.prepare_gateware()
        self.no_herald_attempts = 0
        self.underflow_streak = 0
        # written by the kernel within a shot
        self.shot_attempts = int64(0)
        #: the shot's last heralding run: 0 its cycles are in shot_attempts, 1 not yet (the
        #: entangler holds them), 2 their read is requested and its answer not yet taken
        self.uncounted = int32(0)
        self.herald_end_mu = int64(0)
        self.latency_mu = int64(0)
        self.reset_a = int32(0)
        self.reset_b = int32(0)
        self.first_code = int32(-1)
        self.runs = int32(0)  # entangler runs in this kernel (the pause checks' clock)
        self.t_lab0_mu = int64(0)  # this kernel's loop start (the loop-time limit's clock)
        keys = ("setting", "pattern", "m_a", "m_b", "counts_a", "counts_b", "attempts")
        self.records = {k: [] for k in keys + ("latency_mu", "reset_a", "reset_b", "t_lab_mu")}
        self.next_index = 0
        self.prepare_totals()
        self._t_wall_loop = 0.0
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("gate.schema_version", GATE_SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "remote_gate")
        self.set_dataset("ionlink.heralding", "gateware")
        self.set_dataset("mode", self.mode)
        self.set_dataset("gate.analysis", self.analysis)
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)
        self.live = LivePublisher(self)

    def run(self):
        self.run_link(self.run_kernel)

    def recorded(self) -> int:
        """Shots recorded so far (where a resumed kernel continues)."""
        return len(self.records["setting"])

    def record_column(self, key: str) -> np.ndarray:
        """One column of the shots' records (``attempts``, ``t_lab_mu``: what
        :meth:`~drivers.link_totals.LinkTotals.count_to_last_herald` counts a kernel that ended
        without its totals to)."""
        return np.array(self.records[key], dtype=np.int64)

    # ---- kernels -----------------------------------------------------------------------------

    @kernel
    def wait_for_herald(self, cool) -> TInt32:
        """Entangler runs until a herald: returns its result word (slots), or -1 when the run
        must stop (no herald within the bound, or a pause check, made after ``check_every``
        runs of this wait without a herald, said stop). The timed-out runs' attempts are added
        to ``shot_attempts`` (the heralding run's cycles are read later: ``uncounted``), runs to
        ``runs``. The cursor ends after the heralding run."""
        while True:
            end_mu, reason, timeouts = self.entangler.run_until_herald_mu(
                cool, self.run_mu, self.margin_mu, self.check_every, True
            )
            self.runs += timeouts
            self.shot_attempts += int64(timeouts) * int64(self.timeout_cycles)
            if reason == UNDERFLOW:
                self.runs += 1
                self.renew_slack()
            elif reason != TIMEOUT:
                self.runs += 1
                self.herald_end_mu = end_mu
                self.uncounted = 1
                return reason
            if self.shot_attempts >= self.dead_attempts:
                self.report_clicks()
                self.no_herald(self.shot_attempts)
                self.renew_slack()  # (the reads' and RPCs' CPU time, before the last write)
                return -1
            stop = self.should_stop(now_mu() - self.t_lab0_mu)
            self.renew_slack()
            if stop:
                return -1
        return -1  # not reached: ARTIQ's compiler wants an explicit return after the loop

    @kernel
    def detect_both(self) -> TInt64:
        """Both network ions' detection at once. Advances the cursor by the longer detection;
        returns the gate end for ``fetch_counts``."""
        t0 = now_mu()
        self.node_a.detect_gate_mu(self.node_a.t_detect_mu)
        t1 = now_mu()
        at_mu(t0)
        self.node_b.detect_gate_mu(self.node_b.t_detect_mu)
        if t1 > now_mu():
            at_mu(t1)
        return now_mu()

    @kernel
    def read_networks(self) -> TInt32:
        """Read both network ions at once: returns bit A + 2·bit B. Consumes all slack, then
        re-establishes ``correction_delay`` of it (and the DRTIO margin's link latencies when a
        node is on a satellite)."""
        t_end = self.detect_both()
        bit_a = self.node_a.threshold_counts(self.node_a.fetch_counts(t_end))
        bit_b = self.node_b.threshold_counts(self.node_b.fetch_counts(t_end))
        t = self.core.get_rtio_counter_mu() + self.correction_mu
        if now_mu() < t:
            at_mu(t)
        return bit_a + 2 * bit_b

    @kernel
    def reset_memories(self):
        """Copy each memory to its network ion, read both, flip the memories read as |1⟩."""
        self.circuit_a.copy_memory()
        self.circuit_b.copy_memory()
        bits = self.read_networks()
        self.reset_a = bits & 1
        self.reset_b = bits >> 1
        self.circuit_a.flip_if(bits & 1)
        self.circuit_b.flip_if(bits >> 1)

    @kernel
    def teleported_cz(self, cool, count_now: TBool) -> TInt32:
        """One teleported CZ between the memories: herald, local gates, network readout,
        corrections, then the memories' echo (``dd_pulses``). Returns the herald pattern +
        16·(bit A + 2·bit B), or -1 to stop. ``count_now``: add the heralding run's cycles to
        ``shot_attempts`` before returning (a Grover shot's first CZ, whose run the second's
        replace in the entangler): their read is issued right after the herald and its answer
        taken after the corrections, so that it costs the feed-forward no wait."""
        t_free0 = now_mu()  # the memories' last rotation ended
        reason = self.wait_for_herald(cool)
        if reason < 0:
            return -1
        if count_now:
            self.entangler.request_ncycles()
            self.uncounted = 2
        pattern = pattern_of_slots(reason)
        delay_mu(self.readout_delay_mu)  # slack for the local gates' DDS writes
        # local gates, node A then node B
        self.circuit_a.cnot_memory_to_network()
        self.circuit_b.cz_network_memory()
        self.circuit_b.rotate_network(pi / 2, 0.75)  # node B's network ion into the X basis
        delay_mu(8)
        bits = self.read_networks()
        m_a = bits & 1
        m_b = bits >> 1
        # the corrections, on the timeline after the two bits were read
        if m_a == 0:
            self.circuit_b.z_memory()
        flip_a = m_b
        if psi_of_pattern(pattern) < 0:
            flip_a = 1 - m_b
        if flip_a != 0:
            self.circuit_a.z_memory()
        self.latency_mu = now_mu() - self.herald_end_mu
        if self.dd_pulses > 0:
            self.echo_memories(t_free0)
        if count_now:
            self.shot_attempts += int64(self.entangler.fetch_answer())
            self.uncounted = 0
        return pattern + 16 * bits

    @kernel
    def count_uncounted(self):
        """After an underflow in a shot: add its last heralding run's cycles to
        ``shot_attempts`` if they are not yet (``uncounted``): the answer of the read requested
        (no wait), or a read (consumes all slack; re-establishes the margin first)."""
        if self.uncounted == 2:
            self.shot_attempts += int64(self.entangler.fetch_answer())
        elif self.uncounted == 1:
            self.resync()
            self.shot_attempts += int64(self.entangler.get_ncycles())
        self.uncounted = 0

    @kernel
    def echo_memories(self, t_free0: TInt64):
        """Refocus the memories' quasi-static dephasing: ``dd_pulses`` (even) X π pulses on each
        memory, spaced by T = the time since ``t_free0`` (the memories' last rotation before the
        herald) less one local gate (while it acts the memory is in a rotated frame, where it
        does not precess about its Z), the first now: the free evolutions T, −T, +T, …, −T sum
        to zero whatever the herald's random time was. Z phases (the detuning's, the
        corrections') commute with the teleported CZ, so the echo may follow it. Advances the
        cursor by (dd_pulses − 1)·T plus one π pulse of each memory and their DDS updates."""
        t_e = now_mu()
        period = t_e - t_free0 - self.frame_mu
        for j in range(self.dd_pulses):
            at_mu(t_e + int64(j) * period)
            self.circuit_a.rotate_memory(pi, 0.0)
            self.circuit_b.rotate_memory(pi, 0.0)

    @kernel
    def both_memories(self, theta_a: TFloat, phi_a: TFloat, theta_b: TFloat, phi_b: TFloat):
        """Rotate memory A, then memory B. Advances the cursor by both rotations."""
        self.circuit_a.rotate_memory(theta_a, phi_a)
        self.circuit_b.rotate_memory(theta_b, phi_b)

    @kernel
    def grover_oracle_flips(self, s: TInt32):
        """X on each memory whose marked bit is 0 (before and after the CZ of the oracle)."""
        m = self.marked[s]
        if (m >> 1) & 1 == 0:
            self.circuit_a.rotate_memory(pi, 0.0)
        if m & 1 == 0:
            self.circuit_b.rotate_memory(pi, 0.0)

    @kernel
    def shot(self, cool, s: TInt32) -> TInt32:
        """One shot of setting ``s``; returns the (last) teleportation's code or -1 to stop."""
        self.renew_slack()  # slack for the resets' DDS writes
        self.reset_memories()
        self.both_memories(
            self.prep_theta_a[s], self.prep_phi_a[s], self.prep_theta_b[s], self.prep_phi_b[s]
        )
        code = 0
        if self.is_grover:
            self.both_memories(pi / 2, 0.25, pi / 2, 0.25)
            self.grover_oracle_flips(s)
            code = self.teleported_cz(cool, True)
            if code < 0:
                return -1
            self.first_code = code
            self.grover_oracle_flips(s)
            self.both_memories(pi / 2, 0.75, pi / 2, 0.75)
            self.both_memories(pi, 0.0, pi, 0.0)
            code = self.teleported_cz(cool, False)
            if code < 0:
                return -1
            self.both_memories(pi, 0.0, pi, 0.0)
            self.both_memories(pi / 2, 0.25, pi / 2, 0.25)
        else:
            if self.is_cnot:
                self.circuit_b.rotate_memory(pi / 2, 0.75)
            code = self.teleported_cz(cool, False)
            if code < 0:
                return -1
            self.first_code = -1
            if self.is_cnot:
                self.circuit_b.rotate_memory(pi / 2, 0.25)
        self.both_memories(
            self.ana_theta_a[s], self.ana_phi_a[s], self.ana_theta_b[s], self.ana_phi_b[s]
        )
        return code

    @kernel
    def run_kernel(self):
        self.core.reset()
        self.node_a.record_dma()
        self.node_b.record_dma()
        self.record_cooling()
        self.node_a.load_dma_handles()
        self.node_b.load_dma_handles()
        cool = self.core_dma.get_handle("remote_entanglement.cool")
        self.renew_slack()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        self.setup_entangler()
        t_lab0 = now_mu()
        self.t_lab0_mu = t_lab0
        self.loop_started(t_lab0)
        attempts_total = int64(0)
        underflows = 0
        i = self.next_index
        self.runs = 0
        next_check = self.check_every
        in_a_row = 0  # shots that underflowed since the last recorded one
        while i < self.n_total:
            if self.runs >= next_check:
                # pause check every check_every entangler runs, between shots (the memories
                # hold nothing): the shot's renew_slack follows, so it costs the RPC only
                next_check = self.runs + self.check_every
                if self.should_stop(now_mu() - t_lab0):
                    self.renew_slack()
                    break
            s = i // self.heralds_per_setting
            self.shot_attempts = int64(0)
            self.uncounted = 0
            try:
                code = self.shot(cool, s)
                if code < 0:
                    attempts_total += self.shot_attempts  # (its runs timed out: all counted)
                    break
                self.circuit_a.copy_memory()
                self.circuit_b.copy_memory()
                t_end = self.detect_both()
                counts_a = self.node_a.fetch_counts(t_end)
                counts_b = self.node_b.fetch_counts(t_end)
                self.resync()
                n = self.entangler.get_ncycles()
                self.shot_attempts += int64(n)
                self.uncounted = 0
                attempts_total += self.shot_attempts
                self.record_shot(
                    s,
                    self.first_code,
                    code,
                    counts_a,
                    counts_b,
                    self.shot_attempts,
                    self.latency_mu,
                    self.reset_a,
                    self.reset_b,
                    now_mu(),
                )
                i += 1
                in_a_row = 0
                self.resync()
            except RTIOUnderflow:
                # the shot is taken again; its attempts were spent all the same
                self.count_uncounted()
                attempts_total += self.shot_attempts
                underflows += 1
                in_a_row += 1
                self.recover()
                self.reset_dds_io()  # a memory rotation's DDS write may have been cut short
                # a pause check before the next shot (shots that underflow may take no run), and
                # a kernel that cannot keep up stops instead of retrying forever
                next_check = self.runs
                if in_a_row >= UNDERFLOW_STREAK:
                    self.underflowing(in_a_row)
                    break
        self.entangler.set_config(False, True)
        self.add_totals(attempts_total, now_mu() - t_lab0, int64(0), underflows, 0, int64(0), 0)

    # ---- host ----------------------------------------------------------------------------------

    @rpc(flags={"async"})
    def record_shot(
        self,
        setting: TInt32,
        first_code: TInt32,
        code: TInt32,
        counts_a: TInt32,
        counts_b: TInt32,
        attempts: TInt64,
        latency_mu: TInt64,
        reset_a: TInt32,
        reset_b: TInt32,
        t_lab_mu: TInt64,
    ):
        """One shot's raw record (async, one per shot)."""
        r = self.records
        codes = [c for c in (first_code, code) if c >= 0]
        r["setting"].append(setting)
        r["pattern"].append([c & 15 for c in codes] + [-1] * (2 - len(codes)))
        r["m_a"].append([(c >> 4) & 1 for c in codes] + [-1] * (2 - len(codes)))
        r["m_b"].append([(c >> 5) & 1 for c in codes] + [-1] * (2 - len(codes)))
        r["counts_a"].append(counts_a)
        r["counts_b"].append(counts_b)
        r["attempts"].append(attempts)
        r["latency_mu"].append(latency_mu)
        r["reset_a"].append(reset_a)
        r["reset_b"].append(reset_b)
        r["t_lab_mu"].append(t_lab_mu)
        self.set_dataset(
            "ionlink.progress", len(r["setting"]) / self.n_total, broadcast=True, archive=False
        )

    def write_results(self):
        """Per-shot arrays, the settings tables and totals (docs/datasets.md, ``gate.*``)."""
        r, s = self.records, self.settings
        n = len(r["setting"])
        setting = np.array(r["setting"], dtype=np.int64)
        self.set_dataset("gate.setting", setting)
        for key in ("prep_a", "prep_b", "basis_a", "basis_b", "marked", "pauli"):
            self.set_dataset("gate.settings." + key, np.array(s[key], dtype=np.int8))
        self.set_dataset("gate.prep_bloch", prep_bloch())
        self.set_dataset("gate.basis_axes", basis_axes())
        self.set_dataset("gate.pattern", np.array(r["pattern"], dtype=np.int32).reshape(n, 2))
        psi = [[psi_of_pattern(p) if p >= 0 else 0 for p in row] for row in r["pattern"]]
        self.set_dataset("gate.psi", np.array(psi, dtype=np.int8).reshape(n, 2))
        self.set_dataset("gate.m_a", np.array(r["m_a"], dtype=np.int8).reshape(n, 2))
        self.set_dataset("gate.m_b", np.array(r["m_b"], dtype=np.int8).reshape(n, 2))
        for node, x in ((self.node_a, "a"), (self.node_b, "b")):
            counts = np.array(r["counts_" + x], dtype=np.int32)
            self.set_dataset("gate.counts_" + x, counts)
            self.set_dataset("gate.bit_" + x, (counts > node.threshold).astype(np.int8))
            self.set_dataset("gate.reset_" + x, np.array(r["reset_" + x], dtype=np.int8))
            for key, value in node.readout_datasets().items():
                self.set_dataset(key, value)
        self.set_dataset("gate.attempts", np.array(r["attempts"], dtype=np.int64))
        self.set_dataset("gate.latency_mu", np.array(r["latency_mu"], dtype=np.int64))
        self.set_dataset("gate.t_lab_mu", np.array(r["t_lab_mu"], dtype=np.int64))
        self.count_to_last_herald()
        t = self.totals
        self.set_dataset("totals.attempts", np.int64(t["attempts"]))
        self.set_dataset("totals.shots", np.int64(n))
        self.set_dataset("totals.shots_requested", np.int64(self.n_total))
        self.set_dataset(STOP_REASON, self.stop_reason)
        self.set_dataset("totals.lab_time_s", float(t["lab_mu"] * self.core.ref_period))
        self.set_dataset("totals.wall_time_s", float(self._t_wall_loop))
        self.set_dataset("totals.underflows_recovered", np.int64(t["underflows"]))
        if t["underflows"]:
            logger.warning(
                "%d shot(s) underflowed and were taken again (%d kept): which shots underflow "
                "depends on their outcomes (a reset's flips, the corrections), so the shots kept "
                "may be selected by them; give correction_delay more slack",
                t["underflows"],
                n,
            )
