# SPDX-License-Identifier: LGPL-3.0-or-later
"""Readout calibration: bright and dark PMT count histograms of each ion, the optimal threshold and
the discrimination error, stored as persistent datasets for every later experiment.

Per shot: Doppler cooling, optical pumping (prepares |0>, dark), for bright shots a pi pulse (|1>),
then detection for ``detection_time``. The threshold t minimises the mean error
(P(dark > t) + P(bright <= t))/2 (bright = count > t). Run after Startup and after calibrating the
qubit pi time (``calib.node_X.qubit.pi_time``). Writes persistent ``calib.readout.threshold_a/_b``,
``calib.readout.error_a/_b`` with their standard errors ``calib.readout.error_sigma_a/_b`` (the
analysis propagates them into SPAM-corrected intervals) and ``calib.node_X.detect.duration``; raw
counts in ``readout.bright_counts_a`` etc. A nonsense result (error >= 0.4, threshold 0 with
error >= 0.1, its cause named: :func:`zero_threshold_cause`, bright shots left dark by their π
pulse, ``readout.bright_left_dark_X`` >= 5 %, or not one count: no detection light) is refused
(``drivers.calibration``): nothing persistent is stored and the run fails.
The kernel asks the scheduler every ``CHECK_EVERY`` shots whether to pause; a paused run resumes
with the shots still to take, a terminated one writes the shots taken (``totals.stop_reason``
``terminated``, ``drivers.run_end``) and stores no calibration.
"""

from math import exp, pi, sqrt

import numpy as np
from artiq.experiment import *

from drivers.arguments import CheckedArguments
from drivers.calibration import refused
from drivers.link import SCHEMA_VERSION
from drivers.link_timing import drtio_margin_mu, link_default
from drivers.run_end import STOP_REASON, run_until_complete

#: readout error (mean of bright and dark) from which a calibration is refused as nonsense
MAX_ERROR = 0.4
#: a threshold of 0 (one count means bright) is accepted only with a readout error below this
ZERO_THRESHOLD_ERROR = 0.1
#: a dark ion gives background counts only: fewer than this many a shot on average
DARK_MAX_MEAN = 1.0
#: refused: at least this share of the bright shots counted as dark ones do
#: (``analysis.readout.bright_left_dark``) with its interval above ``LEFT_DARK_ALLOWED``, where
#: bright and dark counts barely overlap: their π pulse left them dark (a whole one leaves the
#: preparation error, about 1 %)
MAX_LEFT_DARK = 0.05
LEFT_DARK_ALLOWED = 0.02
#: bright shots without a count beyond a Poisson count of their mean by more than this many
#: standard errors (and 2 %) are bright shots left dark
EXCESS_ZEROS_SIGMA = 4.0
#: shots between two pause checks (a sync RPC, ~40 us on Kasli, against >= 50 x ~0.5 ms of shots:
#: < 0.2 % of the lab time; the simulator takes ~0.1 s of host time for them)
CHECK_EVERY = 50


def zero_threshold_cause(node: str, bright: np.ndarray, dark: np.ndarray) -> str:
    """Why the best threshold of ``node``'s shots is 0 (any count means bright) with a large
    error, from each distribution against what it should be: bright shots a Poisson count of
    their mean (more shots without a count: some were left dark), dark ones background only
    (:data:`DARK_MAX_MEAN`). With both as they should be, the bright ion is too dim: its counts
    overlap the dark's."""
    mb, md = float(np.mean(bright)), float(np.mean(dark))
    zeros = float(np.mean(bright == 0))
    poisson = exp(-mb)
    sigma = sqrt(poisson * (1 - poisson) / bright.size)
    if zeros > poisson + EXCESS_ZEROS_SIGMA * sigma + 0.02:
        return (
            "{:.0%} of the bright shots gave no count where a Poisson count of their mean "
            "({:.2f}) gives {:.0%}: some bright shots stayed dark (qubit pi pulse: "
            "calib.node_{}.qubit.pi_time, qubit drive?)"
        ).format(zeros, mb, poisson, node)
    if md >= DARK_MAX_MEAN:
        return (
            "dark shots are not dark: {:.2f} counts a shot where a dark ion gives background "
            "only (< {:.0f}; detection light, PMT?)"
        ).format(md, DARK_MAX_MEAN)
    return (
        "the bright ion is too dim: {:.0%} of its shots gave no count (as a Poisson count of "
        "mean {:.2f} does), so bright and dark count distributions overlap (detection beam, "
        "collection, detection_time?)"
    ).format(zeros, mb)


class ReadoutCalibration(CheckedArguments, EnvExperiment):
    """Readout calibration (thresholds)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.setattr_device("scheduler")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_argument(
            "shots",
            NumberValue(500, precision=0, step=1, min=10, type="int"),
            tooltip="shots per state and node",
        )
        self.setattr_argument(
            "detection_time",
            NumberValue(link_default(self, "detect_s"), unit="us", min=1 * us),
            tooltip="default: calib.link.detect_s",
        )
        self.setattr_argument("slack_margin", NumberValue(10 * us, unit="us", min=1 * us))

    def prepare(self):
        self.check_arguments()
        for node in (self.node_a, self.node_b):
            node.load_calibration(self)
        self.t_detect_mu = self.core.seconds_to_mu(self.detection_time)
        self.margin_mu = self.core.seconds_to_mu(self.slack_margin)
        # a node on a DRTIO satellite: its outputs need the link's latencies on top of
        # break_realtime's slack (as the link experiments, drivers.link; 0 on one chassis)
        self.link_margin_mu = np.int64(drtio_margin_mu(self, (self.node_a, self.node_b)))
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {"link_margin_mu"}
        self.counts = {}
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "readout_calibration")
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)

    @rpc(flags={"async"})
    def store(self, node: TInt32, bright: TInt32, counts: TList(TInt32), n: TInt32):
        """The first ``n`` of ``counts``: more shots of one node and state."""
        self.counts.setdefault((node, bright), []).extend(counts[:n])
        self.set_dataset(
            "ionlink.progress",
            sum(len(c) for c in self.counts.values()) / (4 * self.shots),
            broadcast=True,
            archive=False,
        )

    def shots_left(self, node: TInt32, bright: TInt32) -> TInt32:
        """Shots still to take of ``node`` in state ``bright`` (a run resumed after a pause)."""
        return self.shots - len(self.counts.get((node, bright), []))

    @kernel
    def take_shots(self, node_index: TInt32, bright: TBool, n: TInt32) -> TBool:
        """``n`` shots of one node and state; every ``CHECK_EVERY`` shots they go to the host
        and the scheduler is asked whether to pause (False: pause requested, the rest left)."""
        node = self.node_a if node_index == 0 else self.node_b
        counts = [0] * CHECK_EVERY
        j = 0
        for k in range(n):
            self.core.break_realtime()
            delay_mu(self.link_margin_mu)
            node.cool_dma()
            node.pump()
            if bright:
                node.rotate(pi, 0.0)
            t_end = node.detect_gate_mu(self.t_detect_mu)
            counts[j] = node.fetch_counts(t_end)
            j += 1
            if j == CHECK_EVERY or k == n - 1:
                self.store(node_index, 1 if bright else 0, counts, j)
                j = 0
                if k < n - 1 and self.scheduler.check_pause():
                    return False
        return True

    @kernel
    def run_kernel(self) -> TBool:
        """The shots still to take, dark then bright, node A then B; False if a pause (or
        termination) was requested before all were taken."""
        self.core.reset()
        delay_mu(self.link_margin_mu)
        self.entangler.init()
        self.node_a.record_dma()
        self.node_b.record_dma()
        self.node_a.load_dma_handles()
        self.node_b.load_dma_handles()
        self.core.break_realtime()
        delay_mu(self.link_margin_mu)
        self.node_a.idle()
        self.node_b.idle()
        for i in range(2):
            for b in range(2):
                n = self.shots_left(i, b)
                if n > 0 and not self.take_shots(i, b == 1, n):
                    return False
        return True

    def run(self):
        run_until_complete(self, self.run_kernel, self.store_counts)

    def store_counts(self):
        """The shots taken so far as ``readout.{dark,bright}_counts_X`` (also when terminated),
        the shots requested and why the run ended (``totals.stop_reason``)."""
        for (i, bright), counts in sorted(self.counts.items()):
            name = "readout.{}_counts_{}".format("bright" if bright else "dark", "ab"[i])
            self.set_dataset(name, np.array(counts, dtype=np.int32))
        self.set_dataset("totals.shots_requested", np.int64(4 * self.shots))
        self.set_dataset(STOP_REASON, self.stop_reason)

    def analyze(self):
        from analysis.readout import bright_left_dark, optimise_threshold  # as offline analysis

        results = {}
        for i, x in enumerate("ab"):
            if (i, 0) not in self.counts or (i, 1) not in self.counts:
                raise refused("readout calibration", "node {}: no shots taken".format(x))
            dark = np.array(self.counts[(i, 0)], dtype=np.int32)
            bright = np.array(self.counts[(i, 1)], dtype=np.int32)
            r = optimise_threshold(bright, dark)
            self.set_dataset("readout.error_sigma_" + x, r.error_sd)
            left = bright_left_dark(bright, dark)
            self.set_dataset("readout.bright_left_dark_" + x, left.fraction.value)
            results[x] = (r, dark, bright, left)
        # check both nodes before storing anything: a nonsense result keeps the old calibration
        for x, (r, dark, bright, left) in results.items():
            if not bright.any() and not dark.any():
                raise refused(
                    "readout calibration",
                    (
                        "node {}: not one PMT count in {} shots, bright or dark: no detection "
                        "light on the ion (the detection beam's AOM drive: Startup, "
                        "calib.node_{}.dds.detect.*) or no PMT signal"
                    ).format(x, bright.size + dark.size, x),
                )
            means = "mean counts bright {:.2f}, dark {:.2f}".format(bright.mean(), dark.mean())
            f = left.fraction
            if f.value >= MAX_LEFT_DARK and f.lo > LEFT_DARK_ALLOWED and left.resolved(r.threshold):
                raise refused(
                    "readout calibration",
                    (
                        "node {}: {:.0%} [{:.0%}, {:.0%}] of the bright shots counted as dark "
                        "ones do ({}, readout error {:.2f}): their pi pulse left them dark "
                        "(qubit drive: calib.node_{}.qubit.pi_time, its amplitude, frequency or "
                        "attenuation?)"
                    ).format(x, f.value, f.lo, f.hi, means, r.error.value, x),
                )
            if r.error.value >= MAX_ERROR:
                raise refused(
                    "readout calibration",
                    (
                        "node {}: readout error {:.2f} >= {} ({}): bright and dark are not told "
                        "apart (qubit drive, detection beam, Startup?)"
                    ).format(x, r.error.value, MAX_ERROR, means),
                )
            if r.threshold < 0 or (r.threshold == 0 and r.error.value >= ZERO_THRESHOLD_ERROR):
                raise refused(
                    "readout calibration",
                    "node {}: threshold {} with readout error {:.2f} ({}): {}".format(
                        x, r.threshold, r.error.value, means, zero_threshold_cause(x, bright, dark)
                    ),
                )
        for x, (r, _, _, _) in results.items():
            self.set_dataset("calib.readout.threshold_" + x, int(r.threshold), persist=True)
            self.set_dataset("calib.readout.error_" + x, r.error.value, persist=True)
            self.set_dataset("calib.readout.error_sigma_" + x, r.error_sd, persist=True)
            self.set_dataset(
                "calib.node_{}.detect.duration".format(x), self.detection_time, persist=True
            )
