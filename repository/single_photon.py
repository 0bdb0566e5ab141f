# SPDX-License-Identifier: LGPL-3.0-or-later
"""Single-photon generation per node: arrival-time histogram, lifetime, detection efficiency and
the recommended detector gate window.

For each node in turn: cool (every ``attempts_per_cool`` attempts), pump, excite, and open all four
detector gates for ``gate_window`` from the excitation pulse (+ ``gate_offset``); the first click
of each detector is stored relative to the excitation pulse start. Analysis: the lifetime estimator
of ``analysis.lifetime`` (binned maximum likelihood of an exponential decay from the histogram peak
plus a flat background within the gate, profile-likelihood interval) gives the lifetime tau and the
onset, the rising edge of the arrivals (not the histogram's peak, nor a cluster of dark counts
before it: the fit's flat background sets how many clicks an edge needs); eta = (clicks per
attempt - dark clicks per attempt) / (1 - dark clicks per attempt / 4) per node (a detector stores
its first click only: its dark clicks per attempt are 1 - e^(-rT), not rT, and a photon adds a
click only where no dark count came), the dark counts from ``calib.bsa.dark_rate_hz`` (Dark
counts) or, without that calibration, from the fit's flat background in this run's window; the
recommended gate is [onset, onset + gate length] shifted by ``calib.link.gate_start_s``, the gate
length from ``gate_length`` or ``calib.link.gate_length_s``, else ``gate_taus`` lifetimes
(``analysis.gate_rule``, the rule the offline report applies; the run records it as
``photon.gate_start_s``, ``photon.gate_length_s``, ``photon.gate_taus``). Run after Startup (and
Dark counts, whose rates then set the dark-count probability). A node on a DRTIO satellite gets
the link's latencies on top of ``slack_margin`` (``drivers.link_timing.drtio_margin_mu``).

Writes ``photons.*`` (docs/datasets.md), ``photon.tau_s`` with its 95 % interval
``photon.tau_lo_s``/``photon.tau_hi_s`` and ``photon.tau_err_s`` (half its width),
``photon.eta_a/_b`` with their 95 % intervals ``photon.eta_lo_X``/``_hi_X`` (the clicks' Poisson
noise and, where Dark counts stored the counts its rates came from, theirs: ``analysis.dark_rate``)
and ``photon.eta_err_X`` (the standard error the interval implies), and the persistent
``calib.photon.gate_start_mu``/``gate_stop_mu`` (relative to the excitation pulse start, read by
the entanglement experiments), ``calib.photon.onset_mu``,
``calib.photon.eta_a/_b``, ``calib.photon.tau_s``, each node's own rising edge
``photon.onset_a_mu``/``_b_mu``, and node B's photons' mean arrival time minus node A's
``photon.arrival_offset_mu`` (with its 95 % interval ``_lo_mu``/``_hi_mu``; a warning where it
costs fidelity: ``analysis.arrival_offset``). Nonsense (too few clicks on a node, a fit that does
not converge, a window that does not hold the photons' decay, a node whose clicks in the
recommended gate do not stand out of the dark counts, the two nodes' edges more than half the
recommended gate apart) is refused: nothing persistent is stored and the run fails. At the first
cooling after ``CHECK_EVERY`` attempts the kernel asks the scheduler whether to pause; a paused run
resumes with the attempts still to make, a terminated one writes the clicks so far
(``totals.stop_reason`` ``terminated``, ``drivers.run_end``) and stores no calibration.
"""

import numpy as np
from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.experiment import *
from numpy import int64

from drivers.arguments import CheckedArguments
from drivers.bsa import GATE_INPUT_OFFSET_MU
from drivers.calibration import refused
from drivers.dark_rates import read_dark_calibration
from drivers.link import SCHEMA_VERSION
from drivers.link_timing import drtio_margin_mu, link_default, nearest_mu
from drivers.run_end import STOP_REASON, run_until_complete
from drivers.single_photon_checks import MIN_CLICKS_PER_NODE, PhotonChecks

#: attempts after which the next cooling asks the scheduler whether to pause (a sync RPC, ~40 us on
#: Kasli, partly hidden by the cooling, per >= 250 attempts of ~5 us: <= 3 % of the lab time; the
#: simulator takes ~0.5 s of host time for 300 attempts)
CHECK_EVERY = 250


class SinglePhoton(PhotonChecks, CheckedArguments, EnvExperiment):
    """Single-photon generation (lifetime, eta, gate window)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.setattr_device("scheduler")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_device("bsa")
        self.setattr_argument(
            "attempts",
            NumberValue(20000, precision=0, step=1, min=1, type="int"),
            tooltip="attempts per node",
        )
        self.setattr_argument(
            "attempts_per_cool", NumberValue(100, precision=0, step=1, min=1, type="int")
        )
        self.setattr_argument("gate_offset", NumberValue(0 * ns, unit="ns"))
        self.setattr_argument(
            "gate_window",
            NumberValue(1000 * ns, unit="ns", min=16 * ns),
            tooltip="detector window of the calibration: must contain the "
            "photons' arrival (excitation delay + photon path)",
        )
        self.setattr_argument(
            "gate_length",
            NumberValue(link_default(self, "gate_length_s"), unit="ns", min=0.0),
            tooltip="recommended gate length (default: calib.link.gate_length_s; 0: gate_taus "
            "lifetimes)",
        )
        self.setattr_argument(
            "gate_taus",
            NumberValue(3.0, min=0.5),
            tooltip="recommended gate length in lifetimes (if no gate_length)",
        )
        self.setattr_argument(
            "slack_margin",
            NumberValue(1.2 * us, unit="us", min=0.2 * us),
            tooltip="slack after each blocking read: covers the DMA start "
            "(~0.9 us on Kasli) plus the ~0.1 us underflow margin (+ 3 x the DRTIO latency "
            "calib.link.drtio_latency_s for a node on a satellite)",
        )

    def prepare(self):
        self.check_arguments()
        for node in (self.node_a, self.node_b):
            node.load_calibration(self)
        from analysis.gate_rule import GateRule  # the rule the offline analysis applies

        s2mu = self.core.seconds_to_mu
        self.gate_rule = GateRule(
            start_s=link_default(self, "gate_start_s"),
            length_s=float(self.gate_length),
            taus=float(self.gate_taus),
        )
        # to the nearest ns: seconds_to_mu floors, and 480e-9 s is 479.99... ns
        self.offset_mu = int64(nearest_mu(self.core, self.gate_offset))
        self.window_mu = int64(nearest_mu(self.core, self.gate_window))
        # a node on a DRTIO satellite: its outputs need the link's latencies on top (its way
        # there and a buffer-space round trip, drtio_margin_mu; 0 for a node on the master)
        self.margin_mu = [
            int64(s2mu(self.slack_margin) + drtio_margin_mu(self, (node,)))
            for node in (self.node_a, self.node_b)
        ]
        self.pump_mu = int64(max(self.node_a.t_pump_mu, self.node_b.t_pump_mu))
        self.underflows = 0
        # gate sensitivity opens GATE_INPUT_OFFSET_MU before the first registered timestamp; the
        # pump pulse precedes the excitation, so it never starts before the trace
        self.gate_open_rel = self.pump_mu + self.offset_mu - GATE_INPUT_OFFSET_MU
        if self.gate_open_rel < 0:
            raise ValueError("gate_offset too early: the gate would open before the pump pulse")
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {
            "offset_mu",
            "window_mu",
            "margin_mu",
            "pump_mu",
            "gate_open_rel",
            "attempts",
            "attempts_per_cool",
        }
        rates, self.dark_cal = read_dark_calibration(self, "single-photon calibration (eta)")
        self.dark_calibrated = rates is not None
        self.dark_rate = np.asarray(rates if self.dark_calibrated else [0.0] * 4, float)
        self.batches = []
        self.n_att = [0, 0]  # attempts completed per node (not lost to an underflow)
        self.n_tried = [0, 0]  # attempts made per node
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "single_photon")
        self.set_dataset("photon.gate_start_s", self.gate_rule.start_s)
        self.set_dataset("photon.gate_length_s", self.gate_rule.length_s)
        self.set_dataset("photon.gate_taus", self.gate_rule.taus)
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)

    @rpc(flags={"async"})
    def store(
        self,
        node: TInt32,
        n: TInt32,
        t_mu: TList(TInt64),
        det: TList(TInt32),
        attempts: TInt32,
        tried: TInt32,
    ):
        """``n`` clicks (times, detectors) of ``attempts`` completed attempts out of ``tried``."""
        self.batches.append(
            (node, np.array(t_mu[:n], dtype=np.int64), np.array(det[:n], dtype=np.int8))
        )
        self.n_att[node] += attempts
        self.n_tried[node] += tried
        self.set_dataset(
            "ionlink.progress",
            sum(self.n_tried) / (2 * self.attempts),
            broadcast=True,
            archive=False,
        )

    def attempts_left(self, node: TInt32) -> TInt32:
        """Attempts still to make on ``node`` (a run resumed after a pause)."""
        return self.attempts - self.n_tried[node]

    @kernel
    def resync(self, margin_mu: TInt64):
        """Cursor to RTIO counter + ``margin_mu`` (after a blocking read; never backwards)."""
        t = self.core.get_rtio_counter_mu() + margin_mu
        if now_mu() < t:
            at_mu(t)

    @kernel
    def record_attempt(self, node_index: TInt32):
        """Record one attempt of a node as a DMA trace (starts at the cursor): pump (pump +
        repump for ``pump.duration``), excitation pulse at ``t_exc`` = pump end, and the four
        detector gates registering click timestamps in [t_exc + gate_offset, + gate_window) (the
        sensitivity switches 88 mu earlier, ``GATE_INPUT_OFFSET_MU``). At most 7 events share a
        coarse timestamp (< 8 SED lanes)."""
        node = self.node_a if node_index == 0 else self.node_b
        name = "single_photon.attempt_a" if node_index == 0 else "single_photon.attempt_b"
        with self.core_dma.record(name):
            t0 = now_mu()
            node.pump_sw.on()
            node.repump_sw.on()
            at_mu(t0 + self.pump_mu)
            node.pump_sw.off()
            node.repump_sw.off()
            node.excite()
            at_mu(t0 + self.gate_open_rel)
            self.bsa.gate_rising_mu(self.window_mu)
            if now_mu() < t0 + self.pump_mu + node.t_excite_mu:
                at_mu(t0 + self.pump_mu + node.t_excite_mu)

    @kernel
    def measure(self, node_index: TInt32, n_attempts: TInt32) -> TBool:
        """``n_attempts`` attempts on one node. Per attempt: one DMA trace (cooling trace first
        every ``attempts_per_cool``), a blocking read of the four first-click timestamps after
        the gate end, then the cursor to counter + the node's margin (``slack_margin``, with the
        link's latencies for a node on a satellite): the attempt rate is set by the CPU. At the
        first cooling after ``CHECK_EVERY`` attempts the clicks go to the host and the scheduler
        is asked whether to pause (False: pause requested, the rest left)."""
        node = self.node_a if node_index == 0 else self.node_b
        margin_mu = self.margin_mu[node_index]
        if node_index == 0:
            attempt = self.core_dma.get_handle("single_photon.attempt_a")
        else:
            attempt = self.core_dma.get_handle("single_photon.attempt_b")
        n_max = 256
        t_buf = [int64(0)] * n_max
        d_buf = [0] * n_max
        ts = [int64(-1)] * 4
        n = 0
        done = 0  # attempts reported to the host
        valid = 0  # attempts completed (not lost to an underflow)
        t_exc_rel = self.pump_mu
        t_end_rel = self.gate_open_rel + self.window_mu
        self.core.break_realtime()
        tried = 0  # attempts made since the last report
        since_check = 0
        paused = False
        for k in range(n_attempts):
            try:
                if k % self.attempts_per_cool == 0:
                    node.cool_dma()
                    # the repump switches off at the cooling end and on with the pump: one coarse
                    # cycle apart, not replaced at one timestamp
                    delay_mu(8)
                    if since_check >= CHECK_EVERY:
                        # while the cooling plays: the RPCs cost lab time only beyond it
                        since_check = 0
                        self.store(node_index, n, t_buf, d_buf, valid - done, tried)
                        done = valid
                        n = 0
                        tried = 0
                        if self.scheduler.check_pause():
                            paused = True
                            break
                        self.resync(margin_mu)
                t0 = now_mu()
                self.core_dma.playback_handle(attempt)
                self.bsa.fetch_pattern(t0 + t_end_rel, ts)
                valid += 1
                for d in range(4):
                    if ts[d] >= 0 and n < n_max:
                        t_buf[n] = ts[d] - (t0 + t_exc_rel)
                        d_buf[n] = d
                        n += 1
                self.resync(margin_mu)
            except RTIOUnderflow:
                # the attempt is lost (not counted); drop its clicks and start afresh
                self.underflows += 1
                self.core.break_realtime()
                self.bsa.drain()
                self.core.break_realtime()
            tried += 1
            since_check += 1
            if n > n_max - 4 or k == n_attempts - 1:
                self.store(node_index, n, t_buf, d_buf, valid - done, tried)
                done = valid
                n = 0
                tried = 0
        return not paused

    @kernel
    def run_kernel(self) -> TBool:
        """The attempts still to make, node A then B; False if a pause (or termination) was
        requested before all were made."""
        self.core.reset()
        self.entangler.init()
        self.bsa.input_mode()
        self.node_a.record_dma()
        self.node_b.record_dma()
        self.record_attempt(0)
        self.record_attempt(1)
        self.node_a.load_dma_handles()
        self.node_b.load_dma_handles()
        self.core.break_realtime()
        self.node_a.idle()
        self.node_b.idle()
        complete = True
        for i in range(2):
            n = self.attempts_left(i)
            if n > 0 and complete:
                complete = self.measure(i, n)
        self.core.break_realtime()
        self.node_a.idle()
        self.node_b.idle()
        self.set_underflows(self.underflows)
        return complete

    def run(self):
        run_until_complete(self, self.run_kernel, self.store_photons)

    def set_underflows(self, n: TInt32):
        self.set_dataset("photon.underflows_recovered", n)

    def store_photons(self):
        """``photons.*``: the clicks and attempts so far (also when terminated), the attempts
        requested and why the run ended (``totals.stop_reason``)."""
        self.set_dataset("totals.attempts_requested", np.int64(2 * self.attempts))
        self.set_dataset(STOP_REASON, self.stop_reason)
        t, det, node = self.photons()
        self.set_dataset("photons.t_mu", t)
        self.set_dataset("photons.detector", det)
        self.set_dataset("photons.node", node)
        self.set_dataset("photons.attempts", np.array(self.n_att, dtype=np.int64))
        self.set_dataset(
            "photons.gate_mu",
            np.array([self.offset_mu, self.offset_mu + self.window_mu], dtype=np.int64),
        )

    def photons(self):
        """(click times in mu from the excitation, detector, node) of every stored click."""
        t = np.concatenate([b[1] for b in self.batches] or [np.zeros(0, np.int64)])
        det = np.concatenate([b[2] for b in self.batches] or [np.zeros(0, np.int8)])
        node = np.concatenate(
            [np.full(len(b[1]), b[0], np.int8) for b in self.batches] or [np.zeros(0, np.int8)]
        )
        return t, det, node

    def analyze(self):
        t, _, node = self.photons()
        window = "window [{}, {}) ns after the excitation".format(
            self.offset_mu, self.offset_mu + self.window_mu
        )
        p_dark = self.dark_click_probability(self.offset_mu, self.offset_mu + self.window_mu)
        for i, x in enumerate("ab"):
            clicks = int(np.count_nonzero(node == i))
            dark = p_dark * self.n_att[i]
            # photons must stand out of the dark counts (5 sigma), however many these are
            if self.n_att[i] == 0 or clicks < max(MIN_CLICKS_PER_NODE, dark + 5 * np.sqrt(dark)):
                raise refused(
                    "single-photon calibration",
                    (
                        "node {}: {} clicks in {} attempts in the {} (dark counts expect {:.1f}): "
                        "no photons in the window (excitation, pumping, detectors, "
                        "gate_offset/gate_window?)"
                    ).format(x, clicks, self.n_att[i], window, dark),
                )
        from analysis.lifetime import fit_lifetime_tags  # same estimator as offline analysis

        try:
            fit = fit_lifetime_tags(t, stop_mu=float(self.offset_mu + self.window_mu))
        except ValueError as exc:
            raise refused(
                "single-photon calibration", "{} ({} clicks in the {})".format(exc, len(t), window)
            ) from exc
        period = self.core.ref_period
        tau_mu = fit.tau.value
        tau_s = tau_mu * period
        self.set_dataset("photon.tau_s", tau_s)
        self.set_dataset("photon.tau_lo_s", fit.tau.lo * period)
        self.set_dataset("photon.tau_hi_s", fit.tau.hi * period)
        self.set_dataset("photon.tau_err_s", 0.5 * (fit.tau.hi - fit.tau.lo) * period)
        self.set_dataset("photon.onset_mu", fit.onset)
        if not (0 < tau_mu < self.window_mu and np.isfinite(fit.tau.hi)):
            raise refused(
                "single-photon calibration",
                (
                    "the lifetime is not determined (tau = {:.3g} ns, interval [{:.3g}, {:.3g}] ns "
                    "from {} clicks in the {})"
                ).format(tau_mu, fit.tau.lo, fit.tau.hi, fit.clicks, window),
            )
        if not self.dark_calibrated:
            # no Dark counts run: the flat background the fit found in this run's window
            per_mu = fit.background_fraction * fit.clicks / (fit.stop - fit.start)
            p_dark = per_mu * float(self.window_mu) / max(1, sum(self.n_att))
        eta = {}
        for i, x in enumerate("ab"):
            # one click entry per clicking detector and attempt: a detector clicks with probability
            # 1 − e^(−rT)(1 − η_d), so the photons' share is η·(1 − p_dark/4), its mean e^(−rT)
            est = self.eta_estimate(int(np.count_nonzero(node == i)), self.n_att[i], p_dark, i)
            eta[x] = est.value
            self.set_dataset("photon.eta_" + x, est.value)
            self.set_dataset("photon.eta_lo_" + x, est.lo)
            self.set_dataset("photon.eta_hi_" + x, est.hi)
            # the standard error the 95 % interval implies (its half width / 1.96)
            self.set_dataset("photon.eta_err_" + x, (est.hi - est.lo) / (2 * 1.959964))
        # the gate opens at the rising edge of the arrivals (+ calib.link.gate_start_s) and lasts
        # calib.link.gate_length_s, or gate_taus lifetimes where the lab has not chosen a length
        start, stop = self.gate_rule.gate_mu(fit.onset, tau_mu, period)
        self.set_dataset("photon.gate_recommended_mu", np.array([start, stop], dtype=np.int64))
        self.check_window_holds_rise(fit.onset, window)
        self.check_window_holds_decay(start, stop, window)
        onsets = self.check_nodes_arrive_together(t, node, start, stop, window)
        self.check_photons_in_gate(t, node, start, stop, p_dark, window)
        self.report_arrival_offset(t, node, np.nanmin(onsets + [fit.onset]), tau_mu, p_dark)
        for x in "ab":
            self.set_dataset("calib.photon.eta_" + x, eta[x], persist=True)
        self.set_dataset("calib.photon.onset_mu", float(fit.onset), persist=True)
        self.set_dataset("calib.photon.gate_start_mu", start, persist=True)
        self.set_dataset("calib.photon.gate_stop_mu", stop, persist=True)
        self.set_dataset("calib.photon.tau_s", tau_s, persist=True)
