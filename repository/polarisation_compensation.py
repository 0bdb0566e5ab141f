# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fibre polarisation compensation with classical reference light and the analyser's detectors.

Each round, for each node: the node's reference light (``node_X.ref_sw``) is sent through its
fibre in H and then in D (its ``ref`` half-wave plate at 0° and 22.5°). For each input the
analyser's H/V detectors measure the three Stokes components of the light after the fibre and the
compensator: the first directly, the other two with the compensator set to its present rotation
followed by a known rotation that brings D/A, then R/L, onto H/V. From the two output Stokes
vectors the path's rotation N = W·F (compensator W, fibre F) is reconstructed
(``drivers.polarisation``); the polarisation error is 1 − |Tr N / 2|² (0 for a compensated path).
With ``compensate`` the plates are then driven to W' = F⁻¹ through the ``waveplates`` controller
(host-side RPC, as ARTIQ experiments use controllers); without it they go back to W. Between
rounds the experiment waits ``interval`` of lab time with the cooling beams on. The scheduler is
asked before each round and, during that wait, every second of lab time: on a pause request the
experiment yields (``scheduler.pause()``) and goes on where it was (a wait until the same lab time,
then the next round); a termination request ends the rounds there, the rounds taken are written
with why the run ended (``totals.stop_reason``, ``drivers.run_end``: ``complete``, ``terminated``,
``exception``).

A node whose six settings' counts are consistent with the detectors' dark counts alone is refused
(the run stops with one line naming the node and why, its plates back where it found them; exit
1): with the Dark counts calibration (``calib.bsa.dark_rate_hz``) when their total is not above
what those rates give in the gated time (Poisson, p ≥ ``LIGHT_P_VALUE``), and in any case when
their H/V split does not change with the setting (:func:`contrast_p_value`: dark counts do not
follow the plates; reference light through any path does). Without light the "rotation" rebuilt
from dark counts is noise, and compensating on it turns the plates to a random setting.

A node whose measured error is within ``SIGNIFICANT_ERROR`` times the error its counts' shot
noise alone gives (``polcomp.error_floor``) keeps its plates: a correction computed from noise
would rotate a good path by about that much (a warning says so when that floor is 0.005 or more).

Datasets: ``polcomp.error`` (rounds × 2, measured error of nodes A and B before correction),
``polcomp.error_floor`` (rounds × 2, the error shot noise alone gives, :func:`error_floor`),
``polcomp.t_lab_s`` (round start, lab time in s), ``polcomp.angles`` (rounds × 2 × 3, the
compensator's plate angles after each round, deg), ``polcomp.counts`` (rounds × 2 × 6 × 4 detector
counts per setting), ``polcomp.compensate``, ``totals.stop_reason``.
"""

import logging

import numpy as np
from artiq.coredevice.exceptions import RTIOOverflow
from artiq.experiment import *
from numpy import int64

from drivers.arguments import CheckedArguments
from drivers.bsa import count_overflow_error
from drivers.dark_rates import read_dark_calibration
from drivers.link import SCHEMA_VERSION
from drivers.polarisation import (
    COMPENSATOR,
    REF_D_DEG,
    REF_H_DEG,
    analyser_rotations,
    compensator,
    net_rotation_from_stokes,
    solve_compensator,
    unitary_infidelity,
)
from drivers.run_end import COMPLETE, STOP_REASON, recording_stop_reason

logger = logging.getLogger(__name__)

NODES = ("a", "b")
#: shutter opening before the first gate, mu
SHUTTER_MU = 1000
#: lab time between two pause checks while waiting between rounds, s
WAIT_CHECK_S = 1.0
#: a node's plates are moved only if its measured error exceeds this multiple of the error its
#: reference counts' shot noise alone gives (``error_floor``): the correction's own error is about
#: that floor, so a smaller measured error is better left than "corrected" into noise (a path
#: without error reads more than 3 floors in ≈ 3 % of the measurements, χ²₃/3)
SIGNIFICANT_ERROR = 3.0
#: a floor from this on is warned about (below it the measurement resolves what matters)
FLOOR_WARNING = 0.005
#: draws of the counts for the noise floor
FLOOR_DRAWS = 200
#: reference counts are taken to hold reference light only where the hypothesis "dark counts
#: alone" has a p-value below this (each of the two tests, :func:`check_reference_light`)
LIGHT_P_VALUE = 1e-3


def error_floor(counts, draws=FLOOR_DRAWS):
    """Mean polarisation error (``1 − |Tr N'†N / 2|²``) between the path rotation N rebuilt from
    one node's six settings of counts (6 × 4: H input then D input, each with the three probes)
    and the N' rebuilt from binomial redraws of its H/V counts: the error the measurement's shot
    noise alone gives (a path with no error reads about this much)."""
    c = np.asarray(counts, dtype=np.int64).reshape(6, 4)
    n = c.sum(axis=1)
    if np.any(n <= 0):
        return float("nan")
    p_h = (c[:, 0] + c[:, 2]) / n
    measured = _rotation(2 * p_h - 1)
    rng = np.random.default_rng(0)
    h = rng.binomial(n, p_h, size=(draws, 6))
    return float(np.mean([unitary_infidelity(_rotation(2 * x / n - 1), measured) for x in h]))


def contrast_p_value(counts):
    """(χ², degrees of freedom, p) of the hypothesis that one node's six settings of counts (6 × 4)
    have one H fraction: the 2 × k contingency test of H = det0 + det2 against V = det1 + det3
    over the k settings with counts. Dark counts do not depend on the plates, so they pass it
    whatever the detectors' rates; reference light does not: the H input's and D input's Stokes
    vectors after any path are orthogonal unit vectors, so the six components spread by at least
    Σ(s − s̄)² ≥ 1 and n counts a setting of which a fraction f is light give χ² ≈ n·f²·(≥ 1)."""
    from scipy.stats import chi2

    c = np.asarray(counts, dtype=np.int64).reshape(6, 4)
    h = (c[:, 0] + c[:, 2]).astype(float)
    n = c.sum(axis=1).astype(float)
    h, n = h[n > 0], n[n > 0]
    dof = len(n) - 1
    p_h = h.sum() / n.sum() if n.sum() > 0 else 0.0
    if dof < 1 or p_h in (0.0, 1.0):
        return 0.0, max(dof, 0), 1.0
    stat = float(np.sum((h - n * p_h) ** 2 / (n * p_h * (1 - p_h))))
    return stat, dof, float(chi2.sf(stat, dof))


def check_reference_light(counts, node, dark_expected=None, dark=None, gated_s=None):
    """Refuse (``RuntimeError``, one line) when one node's six settings of counts (6 × 4) are
    consistent with the detectors' dark counts alone: their total is not above
    ``dark_expected`` (the counts the calibrated dark rates give in the gated time, if known)
    by a p-value below ``LIGHT_P_VALUE``, or their H/V contrast does not follow the setting
    (:func:`contrast_p_value`, p ≥ ``LIGHT_P_VALUE``). With ``dark`` (the counts the rates were
    measured from, ``analysis.dark_rate.DarkCalibration``) and ``gated_s`` (gated time per
    detector) the p-value takes in the rates' own uncertainty (negative binomial,
    :meth:`~analysis.dark_rate.DarkCalibration.count_sf`); without, Poisson of mean
    ``dark_expected``."""
    from scipy.stats import poisson

    total = int(np.sum(counts))
    hint = (
        "no reference light reached the detectors (check node_{0}.ref_sw, the fibre, the "
        "light's rate; a simulated lab needs [nodes.{0}.reference]): plates left as they were"
    ).format(node)
    if dark_expected is not None:
        if dark is not None and gated_s is not None:
            p_dark = dark.count_sf(total, gated_s)
        else:
            p_dark = float(poisson.sf(total - 1, dark_expected))
        if p_dark >= LIGHT_P_VALUE:
            raise RuntimeError(
                "node {}: {} reference counts in its 6 settings, where the calibrated dark "
                "counts (calib.bsa.dark_rate_hz) alone give {:.1f} (p = {:.2g}): {}".format(
                    node, total, dark_expected, p_dark, hint
                )
            )
    stat, dof, p = contrast_p_value(counts)
    if p >= LIGHT_P_VALUE:
        raise RuntimeError(
            "node {}: its {} reference counts do not change between the 6 settings beyond "
            "shot noise (H/V contrast χ² = {:.1f} for {} degrees of freedom, p = {:.2g}), as "
            "dark counts alone: {}".format(node, total, stat, dof, p, hint)
        )


def _rotation(s):
    """The path rotation from the six Stokes components (H input's three, then D input's)."""
    return net_rotation_from_stokes(np.asarray(s[:3]), np.asarray(s[3:]))


def stokes_component(counts, node):
    """(H − V)/(H + V) of four detector counts (det0, det2 = H; det1, det3 = V)."""
    h = counts[0] + counts[2]
    v = counts[1] + counts[3]
    if h + v <= 0:
        raise RuntimeError(
            "node {}: no reference light reached the detectors (check node_{}.ref_sw, the "
            "fibre, the light's rate; a simulated lab needs [nodes.{}.reference])".format(
                node, node, node
            )
        )
    return (h - v) / (h + v)


class PolarisationCompensation(CheckedArguments, EnvExperiment):
    """Fibre polarisation compensation"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("scheduler")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_device("bsa")
        self.setattr_device("waveplates")
        self.ref_sw = [self.get_device("node_a.ref_sw"), self.get_device("node_b.ref_sw")]
        self.setattr_argument("rounds", NumberValue(1, precision=0, step=1, min=1, type="int"))
        self.setattr_argument("interval", NumberValue(30.0, unit="s", min=0.0, max=3600.0))
        self.setattr_argument("gates", NumberValue(20, precision=0, step=1, min=1, type="int"))
        self.setattr_argument("gate_length", NumberValue(1 * ms, unit="ms", min=10 * us))
        self.setattr_argument("compensate", BooleanValue(True))
        self.kernel_invariants = {"ref_sw", "gate_mu", "gates", "wait_check_mu"}

    def prepare(self):
        self.check_arguments()
        self.gate_mu = int64(self.core.seconds_to_mu(self.gate_length))
        self.interval_mu = int64(self.core.seconds_to_mu(self.interval))
        self.wait_check_mu = int64(self.core.seconds_to_mu(WAIT_CHECK_S))
        self.set_dataset("schema_version", SCHEMA_VERSION)
        self.set_dataset("ionlink.experiment", "polarisation_compensation")
        self.set_dataset("polcomp.compensate", bool(self.compensate))
        self.set_dataset("ionlink.progress", 0.0, broadcast=True, archive=False)
        self.errors = np.full((self.rounds, 2), np.nan)
        self.floors = np.full((self.rounds, 2), np.nan)
        self.t_lab = np.full(self.rounds, np.nan)
        self.angles = np.full((self.rounds, 2, 3), np.nan)
        self.counts = np.zeros((self.rounds, 2, 6, 4), dtype=np.int64)
        self.last_counts = [0] * 4
        rates, self.dark_cal = read_dark_calibration(self, "polarisation compensation")
        #: dark counts the Dark counts calibration expects in a node's six settings (None: none)
        self.dark_expected = None
        #: gated time per detector of a node's six settings, s
        self.gated_s = 6 * self.gates * self.gate_mu * self.core.ref_period
        if rates is not None:
            self.dark_expected = float(np.sum(rates)) * self.gated_s

    @kernel
    def init(self):
        self.core.reset()
        self.entangler.init()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        for sw in self.ref_sw:
            sw.off()
        self.core.wait_until_mu(now_mu())

    @rpc(flags={"async"})
    def store_counts(self, counts: TList(TInt64)):
        self.last_counts = list(counts)

    @kernel
    def count_reference(self, node: TInt32):
        """Open node ``node``'s reference shutter and count each detector for ``gates`` ×
        ``gate_mu`` of gated time (:meth:`drivers.bsa.BellStateAnalyser.count_gates`: sub-gates
        sized to the count rate); the shutter closes once the counts are read. The four totals go
        to the host (:meth:`store_counts`)."""
        totals = [int64(0)] * 4
        self.core.break_realtime()
        self.ref_sw[node].on()
        delay_mu(SHUTTER_MU)
        self.bsa.count_gates(self.gate_mu, self.gates, totals)
        self.core.break_realtime()
        self.ref_sw[node].off()
        self.store_counts(totals)

    @kernel
    def wait_lab(self, t_end: TInt64) -> TBool:
        """Let lab time pass until ``t_end`` (mu on the RTIO counter) with the cooling beams on,
        asking the scheduler every ``WAIT_CHECK_S`` whether to pause (the RPC runs while the CPU
        waits anyway). True: it asked, the wait was cut short and the beams go off at once
        (after a ``break_realtime``). Returns with the RTIO counter at the cursor (at once if
        ``t_end`` has passed)."""
        self.core.break_realtime()
        if now_mu() >= t_end:
            return False
        self.node_a.cool_sw.on()
        self.node_b.cool_sw.on()
        # the last stretch (one to two checks long) keeps its slack for the beams' switch-off
        while t_end - now_mu() > 2 * self.wait_check_mu:
            delay_mu(self.wait_check_mu)
            self.core.wait_until_mu(now_mu())
            if self.scheduler.check_pause():
                self.core.break_realtime()
                self.node_a.cool_sw.off()
                self.node_b.cool_sw.off()
                self.core.wait_until_mu(now_mu())
                return True
        at_mu(t_end)
        self.node_a.cool_sw.off()
        self.node_b.cool_sw.off()
        self.core.wait_until_mu(now_mu())
        return False

    @kernel
    def lab_time_mu(self) -> TInt64:
        """The lab's present (RTIO counter), mu."""
        return self.core.get_rtio_counter_mu()

    def measure_node(self, k, r):
        """Measure node ``k``'s path rotation N = W·F; return (N, W, the plate angles found).

        Counts consistent with dark counts alone are refused (:func:`check_reference_light`).
        A measurement cut short (no reference light, a termination, a lost controller) puts
        the node's plates back where it found them before the error goes on: the compensator
        left at a probe setting would rotate every later run's photons."""
        node = NODES[k]
        pos = self.waveplates.positions()
        base = {p: pos["{}.{}".format(node, p)] for p in COMPENSATOR}
        found = dict(base, ref=pos["{}.ref".format(node)])
        w = compensator(base)
        probes = [base] + [solve_compensator(a @ w) for a in analyser_rotations()[1:]]
        out = []
        i = 0
        try:
            for ref_deg in (REF_H_DEG, REF_D_DEG):
                s = []
                for angles in probes:
                    self.waveplates.move_node(node, dict(angles, ref=ref_deg))
                    try:
                        self.count_reference(k)
                    except RTIOOverflow as e:
                        raise count_overflow_error(
                            e,
                            "attenuate node {}'s reference light".format(node),
                        ) from e
                    c = self.last_counts
                    self.counts[r, k, i] = c
                    i += 1
                    s.append(stokes_component(c, node))
                out.append(np.array(s))
            check_reference_light(
                self.counts[r, k], node, self.dark_expected, self.dark_cal, self.gated_s
            )
        except BaseException:
            self.waveplates.move_node(node, found)
            raise
        return net_rotation_from_stokes(out[0], out[1]), w, base

    def run(self):
        try:
            with recording_stop_reason(self, end_on_termination=False):
                self.take_rounds()
                self.stop_reason = COMPLETE
        finally:
            self.write_results()

    def yield_to_scheduler(self):
        """Yield to the scheduler (raises ``TerminationRequested`` on termination)."""
        self.core.close()  # release the core device while paused (ARTIQ convention)
        self.scheduler.pause()

    def take_rounds(self):
        """The rounds, with the waits between them; pauses where the scheduler asks."""
        self.init()
        for r in range(self.rounds):
            if r:
                t_end = self.lab_time_mu() + self.interval_mu
                while self.wait_lab(t_end):
                    self.yield_to_scheduler()
            if self.scheduler.check_pause():
                self.yield_to_scheduler()
            self.t_lab[r] = self.lab_time_mu() * self.core.ref_period
            for k, node in enumerate(NODES):
                n, w, base = self.measure_node(k, r)
                self.errors[r, k] = unitary_infidelity(n, np.eye(2))
                self.floors[r, k] = error_floor(self.counts[r, k])
                target = base
                if self.compensate and self.significant(node, r, k):
                    fibre = w.conj().T @ n
                    target = solve_compensator(fibre.conj().T)
                self.waveplates.move_node(node, dict(target, ref=REF_H_DEG))
                self.angles[r, k] = [target[p] for p in COMPENSATOR]
            self.set_dataset(
                "ionlink.progress", (r + 1) / self.rounds, broadcast=True, archive=False
            )
            self.set_dataset("live.polcomp.error", self.errors[: r + 1], broadcast=True)

    def significant(self, node, r, k):
        """Whether node ``k``'s measured error in round ``r`` exceeds ``SIGNIFICANT_ERROR`` times
        its noise floor; if not, the plates stay, with a warning if that floor is
        ``FLOOR_WARNING`` or more (the reference counts cannot resolve such errors)."""
        error, floor = self.errors[r, k], self.floors[r, k]
        if error > SIGNIFICANT_ERROR * floor:
            return True
        log = logger.warning if floor >= FLOOR_WARNING else logger.info
        log(
            "node %s: measured polarisation error %.4f is within the reference counts' noise "
            "(%.4f from shot noise alone, %d counts): plates left as they were; more gates or "
            "brighter reference light measure it",
            node,
            error,
            floor,
            int(self.counts[r, k].sum()),
        )
        return False

    def write_results(self):
        """The rounds taken (NaN rows for the others; also when terminated) and why the run
        ended (``totals.stop_reason``)."""
        self.set_dataset(STOP_REASON, self.stop_reason)
        self.set_dataset("polcomp.error", self.errors)
        self.set_dataset("polcomp.error_floor", self.floors)
        self.set_dataset("polcomp.t_lab_s", self.t_lab)
        self.set_dataset("polcomp.angles", self.angles)
        self.set_dataset("polcomp.counts", self.counts)
