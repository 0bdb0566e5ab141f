# SPDX-License-Identifier: LGPL-3.0-or-later
"""Shared parts of the remote-entanglement experiments (gateware and CPU heralding).

:class:`LinkExperiment` is a mixin for ``EnvExperiment`` subclasses. It holds the arguments both
heralding paths share, the analysis settings (Z, parity scan, tomography), the kernels that run
after a herald (analysis rotations and readout of both ions), the host RPCs that receive the
per-herald records (one async RPC per herald, never per attempt) and the final datasets of the
schema in ``docs/datasets.md``; the totals each kernel sends (:mod:`drivers.link_totals`) and the
live datasets for the dashboard (:mod:`drivers.link_live`) are its mixins.
"""

import logging
import time

import numpy as np
from artiq.language.core import at_mu, delay_mu, kernel, now_mu, rpc
from artiq.language.environment import EnumerationValue, NumberValue
from artiq.language.types import TBool, TInt32, TInt64, TNone
from artiq.language.units import us
from numpy import int64

from drivers.analysis_settings import (  # noqa: F401 - re-exported for the experiments
    BASIS_X,
    BASIS_Y,
    BASIS_Z,
    PARITY_POINTS,
    SCHEMA_VERSION,
    analysis_settings,
)
from drivers.arguments import ArgumentValueError, CheckedArguments
from drivers.bsa import psi_of_pattern
from drivers.herald_records import HeraldRecords
from drivers.link_live import LinkLive
from drivers.link_timing import (
    GATEWARE_MARGIN_S,
    HERALDS_PER_SETTING,
    MIN_SLACK_MARGIN_S,
    drtio_margin_mu,
    expected_p_success,
    herald_timeout_attempts,
    link_default,
)
from drivers.link_totals import LinkTotals
from drivers.live import LivePublisher
from drivers.no_herald import NoHeraldError, no_herald_message
from drivers.run_end import COMPLETE, STOP_REASON, recording_stop_reason

logger = logging.getLogger(__name__)

#: calibrations a link experiment needs, and the experiment that stores them
CALIBRATIONS = (
    ("calib.readout.threshold_a", "ReadoutCalibration"),
    ("calib.readout.threshold_b", "ReadoutCalibration"),
    ("calib.photon.gate_start_mu", "SinglePhoton"),
    ("calib.photon.gate_stop_mu", "SinglePhoton"),
)


class UnderflowStreakError(Exception):
    """Every one of the last :data:`UNDERFLOW_STREAK` shots (or heralds) underflowed: the
    kernel cannot keep up with its own timeline (too little slack)."""


#: shots in a row that underflowed after which a link kernel stops
#: (:meth:`LinkExperiment.underflowing`)
UNDERFLOW_STREAK = 1000


class LinkExperiment(LinkTotals, LinkLive, CheckedArguments):
    """Mixin: shared arguments (checked by :meth:`check_arguments`), post-herald kernels and
    herald bookkeeping."""

    def build_link(self, default_margin=GATEWARE_MARGIN_S, modes=("z", "parity", "tomography")):
        """Request the devices and arguments both heralding paths share (call in ``build``);
        ``modes``: the values of the ``mode`` argument (the first is the default)."""
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.setattr_device("scheduler")
        self.setattr_device("ccb")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_device("bsa")
        self.setattr_argument(
            "mode",
            EnumerationValue(list(modes), modes[0]),
            tooltip="what to run (remote entanglement: Z basis, parity scan, or 9 Pauli settings)",
        )
        self.setattr_argument(
            "heralds_per_setting",
            NumberValue(HERALDS_PER_SETTING, precision=0, step=1, min=1, type="int"),
            tooltip="heralds per analysis setting",
        )
        self.setattr_argument(
            "parity_points",
            NumberValue(PARITY_POINTS, precision=0, step=1, min=2, type="int"),
            tooltip="analysis phases in [0, 1) turn",
        )
        self.setattr_argument(
            "cooling_time",
            NumberValue(link_default(self, "cool_s"), unit="us", min=0.0),
            tooltip="Doppler cooling before each run/attempt block (default: calib.link.cool_s)",
        )
        self.setattr_argument(
            "slack_margin",
            NumberValue(default_margin, unit="us", min=0.2 * us),
            tooltip="slack re-established after each blocking read (RTIO counter + margin, "
            "+ 3 x the DRTIO latency calib.link.drtio_latency_s when a node is on a satellite)",
        )
        self.setattr_argument(
            "readout_delay",
            NumberValue(5 * us, unit="us", min=0.0),
            tooltip="extra skip after an underflow in the herald handling, past the readout "
            "already queued (sets no slack otherwise; docs/experiments.md, Margins)",
        )
        self.setattr_argument(
            "max_wall_time",
            NumberValue(0.0, unit="s", min=0.0),
            tooltip="stop after this much time in the heralding loop, by the RTIO counter (the "
            "lab's clock: real time on hardware, the simulated lab's in a simulation, whatever "
            "the host's speed; 0 = no limit)",
        )
        self.setattr_argument(
            "herald_timeout",
            NumberValue(0, precision=0, step=1, min=0, type="int"),
            tooltip="attempts without a herald before the run stops with an error; 0: 50/P, "
            "P expected from calib.photon.eta_a/_b and the gate (1e7 if unknown)",
        )

    def build_pulse_timing(self, group):
        """Arguments of the pump window and the excitation pulse in an attempt cycle (both
        heralding paths; call in ``build``): ``pump_start``, ``pump_stop``, ``excite_time`` (s),
        defaults from the ``calib.link.*`` datasets."""
        for name, key, what in (
            ("pump_start", "pump_start_s", "pump window start in the cycle"),
            ("pump_stop", "pump_stop_s", "pump window end in the cycle"),
            ("excite_time", "excite_time_s", "excitation pulse start in the cycle (8 ns steps)"),
        ):
            self.setattr_argument(
                name,
                NumberValue(link_default(self, key), unit="ns", min=0.0),
                group=group,
                tooltip="{} (default: calib.link.{})".format(what, key),
            )

    def check_pulse_windows(self, pump_start_mu, pump_stop_mu, excite_mu):
        """Refuse a pump window that is empty or does not end by the excitation pulse (mu from
        the cycle start, as played). A pump still on when the ion is excited would pump the
        qubit out of its entanglement with the photon; the simulator counts only the pumping
        before the excitation, so such a run would report the fidelity of a link the lab does
        not have. Host, in ``prepare``.

        :raises ArgumentValueError: the window and the excitation, in one line."""
        if not pump_start_mu < pump_stop_mu <= excite_mu:
            raise ArgumentValueError(
                "pump window [{}, {}) ns and excitation at {} ns: need pump_start < pump_stop "
                "<= excite_time (the pump must end before the ion is excited)".format(
                    pump_start_mu, pump_stop_mu, excite_mu
                )
            )

    def note_uncalibrated(self):
        """Warn about the :data:`CALIBRATIONS` missing from the dataset store, and record them
        in ``ionlink.uncalibrated`` (empty when calibrated). Host, in ``prepare``."""
        missing = [
            (k, by) for k, by in CALIBRATIONS if self.get_dataset(k, None, archive=False) is None
        ]
        if missing:
            # the hardware would run with the defaults too; say so, and keep it in the results
            logger.warning(
                "uncalibrated: %s not in the dataset store; running with the defaults (run %s "
                "first)",
                ", ".join(k for k, _ in missing),
                " and ".join(sorted({by for _, by in missing})),
            )
        self.set_dataset("ionlink.uncalibrated", ",".join(k for k, _ in missing))

    def prepare_link(self, kind):
        """Host-side preparation (call in ``prepare``): calibrations, settings, counters.

        :raises ArgumentValueError: ``slack_margin`` below the predicted minimum of the path
            (``drivers.link_timing.MIN_SLACK_MARGIN_S``)."""
        self.kind = kind
        floor = MIN_SLACK_MARGIN_S.get(kind, 0.0)
        if self.slack_margin < floor:
            raise ArgumentValueError(
                "argument 'slack_margin' = {:.2f} us is below the predicted minimum {:.2f} us "
                "of the {} loop: its mean CPU costs after a resync exceed it, so every run "
                "would underflow (ionlink-sim slack; docs/experiments.md, Margins)".format(
                    self.slack_margin * 1e6, floor * 1e6, kind
                )
            )
        self.note_uncalibrated()
        for node in (self.node_a, self.node_b):
            node.load_calibration(self)
        # frequency difference of the photon's polarisation components (≈ qubit splitting, from the
        # magnetic-field calibration); the analysis corrects the detection-time phase with it
        self.detection_phase_hz = float(self.get_dataset("calib.link.detection_phase_hz", 0.0))
        s = analysis_settings(self.mode, self.parity_points)
        self.settings = s
        self.n_settings = len(s["basis_a"])
        self.theta_a, self.phi_a = s["theta_a"], s["phi_a"]
        self.theta_b, self.phi_b = s["theta_b"], s["phi_b"]
        self.n_total = self.n_settings * self.heralds_per_setting
        self.cool_s = float(self.cooling_time)
        self.t_cool_mu = int64(self.core.seconds_to_mu(self.cool_s))
        # a node on a DRTIO satellite: its outputs need the link latency on top of the margin,
        # and a write may stall for a round trip when the master refreshes its copy of the
        # satellite's buffer space (DRTIO_MARGIN_LATENCIES = 3 latencies in all)
        self.margin_mu = int64(
            self.core.seconds_to_mu(self.slack_margin)
            + drtio_margin_mu(self, (self.node_a, self.node_b))
        )
        self.readout_delay_mu = int64(self.core.seconds_to_mu(self.readout_delay))
        # after an underflow between herald and readout, the readout window may already sit in the
        # SED lanes: skip past it, or the next events would be sequence errors (and a dropped
        # entangler RUN write would leave run_mu waiting forever)
        self.recover_mu = int64(
            max(self.node_a.t_detect_mu, self.node_b.t_detect_mu)
            + max(self.node_a.pi_time_mu, self.node_b.pi_time_mu)
            + self.readout_delay_mu
            + self.margin_mu
        )
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {
            "n_settings",
            "theta_a",
            "phi_a",
            "theta_b",
            "phi_b",
            "heralds_per_setting",
            "t_cool_mu",
            "margin_mu",
            "readout_delay_mu",
            "recover_mu",
            "dead_attempts",
        }
        self.no_herald_attempts = 0
        self.underflow_streak = 0
        # host bookkeeping; `next_index` is where a resumed kernel continues
        self.records = HeraldRecords(
            (int(self.node_a.threshold), int(self.node_b.threshold)), self.n_settings
        )
        self.next_index = 0
        self.prepare_totals()
        self._t_wall_loop = 0.0
        self._live_last = 0.0
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "remote_entanglement")
        self.set_dataset("ionlink.heralding", kind)
        self.set_dataset("mode", self.mode)
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)
        for key in ("herald_rate", "psi_plus", "psi_minus", "fidelity"):
            self.set_dataset("live." + key, 0.0, broadcast=True, archive=False)
        self.live = LivePublisher(self)

    def prepare_herald_timeout(self, gate_mu):
        """Attempts without a herald after which the run stops with :class:`NoHeraldError`
        (``herald_timeout``, or 50/P with P expected from the single-photon calibration and the
        gate of ``gate_mu`` ns). Call in ``prepare`` once the gate is known."""
        eta_a = float(self.get_dataset("calib.photon.eta_a", 0.0))
        eta_b = float(self.get_dataset("calib.photon.eta_b", 0.0))
        tau_s = float(self.get_dataset("calib.photon.tau_s", 0.0))
        self.p_expected = expected_p_success(eta_a, eta_b, gate_mu * 1e-9, tau_s)
        #: what the detectors counted before the kernel gave up without a herald
        #: (:class:`drivers.no_herald.ClickCounts`), None until then
        self.last_run_clicks = None
        self.dead_attempts = int64(
            self.herald_timeout
            if self.herald_timeout > 0
            else herald_timeout_attempts(self.p_expected)
        )

    # ---- kernels -----------------------------------------------------------------------------

    @kernel
    def set_analysis_phases(self, s: TInt32) -> TNone:
        """Program both qubit drives with setting ``s``'s analysis phases, before the attempts
        start, so that only TTL pulses remain after a herald (the experiments call it when the
        setting changes: the drives keep the phases). Advances the cursor by two DDS updates
        (2 x 1256 mu)."""
        self.node_a.set_qubit_phase(self.phi_a[s])
        self.node_b.set_qubit_phase(self.phi_b[s])

    @kernel
    def analyse_and_read(self, s: TInt32) -> TInt64:
        """Analysis pulses of setting ``s`` on both ions at once, then both readouts at once.

        Advances the cursor by the longer pulse plus the detection time. Returns the gate end;
        fetch counts with ``node.fetch_counts``."""
        t0 = now_mu()
        self.node_a.rotate_prepared(self.theta_a[s])
        t1 = now_mu()
        at_mu(t0)
        self.node_b.rotate_prepared(self.theta_b[s])
        if t1 > now_mu():
            at_mu(t1)
        delay_mu(8)
        t0 = now_mu()
        self.node_a.detect_gate_mu(self.node_a.t_detect_mu)
        t1 = now_mu()
        at_mu(t0)
        self.node_b.detect_gate_mu(self.node_b.t_detect_mu)
        if t1 > now_mu():
            at_mu(t1)
        return now_mu()

    @kernel
    def recover(self) -> TNone:
        """After an RTIOUnderflow in the herald handling: new slack, then past any readout events
        already queued. Advances the cursor to at least RTIO counter + 125 µs + ``recover_mu``."""
        self.core.break_realtime()
        delay_mu(self.recover_mu)

    @kernel
    def reset_dds_io(self) -> TNone:
        """After an RTIOUnderflow that may have cut a qubit-drive write short (the analysis
        phases, a memory rotation): both nodes' :meth:`~drivers.node.IonNode.reset_dds_io`, so
        that the next writes are read in step. Advances the cursor by four CFG writes (3584 mu);
        call it after ``core.break_realtime``."""
        self.node_a.reset_dds_io()
        self.node_b.reset_dds_io()

    @kernel
    def resync(self) -> TNone:
        """Move the cursor to the RTIO counter + ``slack_margin`` if it is behind (after a blocking
        read). Never moves backwards."""
        t = self.core.get_rtio_counter_mu() + self.margin_mu
        if now_mu() < t:
            at_mu(t)

    @kernel
    def renew_slack(self) -> TNone:
        """New slack after a synchronous RPC or an RTIOUnderflow: ``core.break_realtime`` (the
        RTIO counter + 125 µs), then :meth:`resync` (the margin, with a satellite's three link
        latencies). On one chassis the second is a no-op; with node B on a satellite beyond
        ~8 km of fibre the 125 µs are less than the margin, and a write to the satellite after
        a buffer-space round trip reached it late (dropped, only the satellite's log said so)."""
        self.core.break_realtime()
        self.resync()

    # ---- host RPCs -------------------------------------------------------------------------

    @rpc(flags={"async"})
    def record_herald(
        self,
        setting: TInt32,
        pattern: TInt32,
        t0: TInt64,
        t1: TInt64,
        t2: TInt64,
        t3: TInt64,
        attempts: TInt64,
        t_lab_mu: TInt64,
        counts_a: TInt32,
        counts_b: TInt32,
    ):
        """One herald's raw record (async, one per herald)."""
        r = self.records
        now = time.time()
        r.append(setting, pattern, (t0, t1, t2, t3), attempts, t_lab_mu, now, counts_a, counts_b)
        if now - self._live_last > 0.5 or len(r) == self.n_total:
            self._live_last = now
            self.update_live()

    @rpc(flags={"async"})
    def no_herald(self, attempts: TInt64) -> TNone:
        """Called by the kernel when ``attempts`` attempts in a row gave no herald (async: the
        kernel does not wait for it): the kernel then stops, and :meth:`run_link` raises
        :class:`NoHeraldError`."""
        self.no_herald_attempts = int(attempts)

    @rpc(flags={"async"})
    def underflowing(self, shots: TInt32) -> TNone:
        """Called by the kernel when ``shots`` shots in a row underflowed
        (:data:`UNDERFLOW_STREAK`; async): the kernel then stops, and :meth:`run_link` raises
        :class:`UnderflowStreakError`."""
        self.underflow_streak = int(shots)

    def should_stop(self, loop_mu: TInt64) -> TBool:
        """Called by the kernel between heralds and every few hundred runs, with the time its
        loop has run so far (``loop_mu``: ``now_mu()`` less its start): True when the
        experiment must leave the kernel (pause requested, or ``max_wall_time`` of loop time
        reached, counting the kernels before this one: ``totals.lab_time_s``, so that a
        simulation stops at the same point whatever the host's speed)."""
        if self.max_wall_time > 0:
            loop_s = (self.totals["lab_mu"] + loop_mu) * self.core.ref_period
            if loop_s > self.max_wall_time:
                self.out_of_time = True
                return True
        return self.scheduler.check_pause()

    # ---- host loop -------------------------------------------------------------------------

    def run_link(self, kernel_fn):
        """Run ``kernel_fn`` until all heralds are taken, pausing cleanly when the scheduler asks
        and stopping cleanly on termination or the wall-time limit."""
        self.out_of_time = False
        gate_stop = getattr(self, "gate_stop_mu", getattr(self, "gate_end_mu", None))
        gate = None if gate_stop is None else (int(self.gate_start_mu), int(gate_stop))
        self.live.start(gate, self.core.ref_period)
        t0 = time.time()
        try:
            with recording_stop_reason(self, end_on_termination=True):
                while self.next_index < self.n_total and not self.out_of_time:
                    kernel_fn()
                    self.next_index = self.recorded()
                    if self.no_herald_attempts or self.underflow_streak:
                        break
                    if self.next_index < self.n_total and not self.out_of_time:
                        close = getattr(self.core, "close", None)
                        if close is not None:
                            close()  # release the core device while paused (ARTIQ convention)
                        self.scheduler.pause()
                self.stop_reason = (
                    "underflows"
                    if self.underflow_streak
                    else "no_herald"
                    if self.no_herald_attempts
                    else COMPLETE
                    if self.next_index >= self.n_total
                    else "wall_time_limit"
                )
        finally:
            self._t_wall_loop += time.time() - t0
            self.write_results()
        if self.underflow_streak:
            raise UnderflowStreakError(
                "the last {} shots in a row underflowed ({} recorded): the kernel cannot keep "
                "up with its timeline; give it more slack (slack_margin, correction_delay)".format(
                    self.underflow_streak, self.recorded()
                )
            )
        if self.no_herald_attempts:
            raise NoHeraldError(no_herald_message(self))

    def write_results(self):
        """Final per-herald arrays and totals (docs/datasets.md)."""
        r, s = self.records, self.settings
        setting = r.column("setting")
        n = len(setting)
        pattern = r.column("pattern").astype(np.int32)
        self.set_dataset("herald.pattern", pattern)
        self.set_dataset(
            "herald.psi", np.array([psi_of_pattern(p) for p in pattern], dtype=np.int8)
        )
        self.set_dataset("herald.t_det_mu", r.column("t_det_mu"))
        self.set_dataset("herald.attempts", r.column("attempts"))
        self.set_dataset("herald.t_lab_mu", r.column("t_lab_mu"))
        self.set_dataset("herald.t_wall", r.column("t_wall"))
        self.set_dataset("herald.basis_a", np.array(s["basis_a"], dtype=np.int8)[setting])
        self.set_dataset("herald.basis_b", np.array(s["basis_b"], dtype=np.int8)[setting])
        self.set_dataset("herald.phase", np.array(s["phase"], dtype=np.float64)[setting])
        self.set_dataset("herald.detection_phase_hz", self.detection_phase_hz)
        for node, x in ((self.node_a, "a"), (self.node_b, "b")):
            counts = r.column("counts_" + x).astype(np.int32)
            self.set_dataset("herald.counts_" + x, counts)
            self.set_dataset("herald.bit_" + x, (counts > node.threshold).astype(np.int8))
            for key, value in node.readout_datasets().items():
                self.set_dataset(key, value)
        self.count_to_last_herald()
        t = self.totals
        lab_s = t["lab_mu"] * self.core.ref_period
        self.set_dataset("totals.attempts", np.int64(t["attempts"]))
        self.set_dataset("totals.heralds", np.int64(n))
        self.set_dataset("totals.heralds_requested", np.int64(self.n_total))
        self.set_dataset(STOP_REASON, self.stop_reason)
        self.set_dataset("totals.lab_time_s", float(lab_s))
        herald_s = t.get("herald_mu", 0) * self.core.ref_period
        self.set_dataset("totals.herald_handling_s", float(herald_s))
        self.set_dataset("totals.loop_time_s", float(lab_s - herald_s))
        self.set_dataset("totals.wall_time_s", float(self._t_wall_loop))
        self.set_dataset(
            "totals.duty_cycle", float(t["cycles_mu"] / t["lab_mu"]) if t["lab_mu"] else 0.0
        )
        self.set_dataset("totals.underflows_recovered", np.int64(t["underflows"]))
        self.set_dataset("totals.runs", np.int64(t.get("runs", 0)))
        self.set_dataset("totals.heralds_discarded", np.int64(t["discarded"]))
        self.set_dataset("totals.cycle_mu", np.int64(self.cycle_mu))
        self.update_live()
