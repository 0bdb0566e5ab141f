# SPDX-License-Identifier: LGPL-3.0-or-later
"""The single-photon calibration's checks of its clicks (host side, mixed into
``repository/single_photon.py``'s experiment): what it refuses as nonsense, the dark clicks it
expects, and the nodes' arrival offset it reports.

The experiment provides ``offset_mu`` and ``window_mu`` (its window, mu after the excitation),
``n_att`` (attempts per node), ``dark_rate`` (the detectors' calibrated rates, s⁻¹),
``dark_calibrated``, ``dark_cal`` (what the rates were measured from,
``analysis.dark_rate.DarkCalibration``, or None), ``core`` and ``set_dataset``.
"""

import logging

import numpy as np

from drivers.calibration import refused

logger = logging.getLogger(__name__)

#: clicks per node below which the calibration is refused (no photons)
MIN_CLICKS_PER_NODE = 10
#: the calibration window must end at least this many recommended gates after the gate opens
DECAY_GATES = 2
#: the two nodes' rising edges may lie at most this fraction of the recommended gate apart (more:
#: refused, the gate would miss most of the later node's photons); the edges of nodes with equal
#: paths agree within 1 ns at 0.3 ns jitter, within 4-5 ns (rarely 8) at 3 ns jitter or a 16 ns
#: excitation pulse with 50-1000 clicks a node (synthetic arrivals, 100 seeds each)
MAX_ONSET_MISMATCH = 0.5


class PhotonChecks:
    """Refusals and reports of the single-photon calibration (see the module docstring)."""

    def check_window_holds_decay(self, start, stop, window):
        """Refused unless the window ends at least ``DECAY_GATES`` recommended gates
        [``start``, ``stop``) after the gate opens: the lifetime, the flat background and eta
        need the arrivals' tail and the window's dark counts beyond it."""
        end = int(self.offset_mu + self.window_mu)
        if end - start < DECAY_GATES * (stop - start):
            raise refused(
                "single-photon calibration",
                (
                    "the recommended gate opens at {} ns, {} ns before the end of the {}: the "
                    "window must hold the photons' decay and the dark counts after it (at least "
                    "{} ns after the gate opens); move gate_offset/gate_window"
                ).format(start, end - start, window, DECAY_GATES * (stop - start)),
            )

    def check_window_holds_rise(self, onset, window):
        """Refused when the rising edge ``onset`` (mu after the excitation) the fit found is the
        window's first ns: the photons were already arriving when the window opened, so the
        edge, and the gate that opens at it, would be the window's start, late by however much
        of the arrivals it missed (before 2026-12-02: ``gate_offset=480e-9`` at duke2024, whose
        photons arrive from 471 ns, stored the gate [479, 524), exit 0)."""
        if onset <= self.offset_mu:
            raise refused(
                "single-photon calibration",
                (
                    "the photons' rising edge is the start of the {}: they were arriving before "
                    "it opened, so the gate would open late; lower gate_offset"
                ).format(window),
            )

    def dark_click_probability(self, start, stop):
        """Dark clicks per attempt in [``start``, ``stop``) (mu after the excitation) from the
        calibrated rates r of the four detectors: a detector's first click in the window is
        stored, later ones are dropped, so each gives e^(−r·(start − window start))·(1 − e^(−r·
        (stop − start))), not r·(stop − start) (0.0952, not 0.1, at 100 kHz over 1 µs)."""
        period = self.core.ref_period
        before = np.exp(-self.dark_rate * (start - self.offset_mu) * period)
        return float(np.sum(before * -np.expm1(-self.dark_rate * (stop - start) * period)))

    def eta_estimate(self, clicks, attempts, p_dark, node):
        """Node ``node``'s eta with its 95 % interval (``analysis.dark_rate.eta_estimate``) from its
        ``clicks`` in ``attempts`` and ``p_dark`` dark clicks per attempt in the window: where the
        store has the counts the rates were measured from, p_dark is drawn from their Poisson
        uncertainty (a short Dark counts run widens the interval); else (the rates alone, or the
        fit's flat background) it is taken as exact."""
        from analysis.dark_rate import DARK_DRAWS, dark_click_probability, eta_estimate

        rng = np.random.default_rng(node)
        draws = None
        if self.dark_calibrated and self.dark_cal is not None:
            width_s = float(self.window_mu) * self.core.ref_period
            draws = dark_click_probability(self.dark_cal.rate_draws(DARK_DRAWS, rng), 0.0, width_s)
        return eta_estimate(clicks, attempts, p_dark, draws, rng=rng)

    def dark_in(self, start, stop, p_dark):
        """Dark clicks per attempt in [``start``, ``stop``) (mu after the excitation):
        :meth:`dark_click_probability`, or without calibrated rates ``p_dark`` per attempt in the
        window, spread evenly."""
        if self.dark_calibrated:
            return self.dark_click_probability(start, stop)
        return p_dark * (stop - start) / float(self.window_mu)

    def check_photons_in_gate(self, t, node, start, stop, p_dark, window):
        """Refused unless each node's clicks in the recommended gate [``start``, ``stop``) stand
        out of the dark counts (:meth:`dark_click_probability`, or without calibrated rates
        ``p_dark`` per attempt in the window, spread evenly) by
        ``MIN_CLICKS_PER_NODE`` and five standard deviations: a histogram of dark counts alone
        (photons beyond the window) fits an "edge" at its largest bin."""
        p_gate = self.dark_in(start, stop, p_dark)
        for i, x in enumerate("ab"):
            sel = node == i
            k = int(np.count_nonzero((t[sel] >= start) & (t[sel] < stop)))
            dark = p_gate * self.n_att[i]
            if k < max(MIN_CLICKS_PER_NODE, dark + 5 * np.sqrt(dark)):
                raise refused(
                    "single-photon calibration",
                    (
                        "node {}: {} clicks in the gate [{}, {}) ns where the dark counts alone "
                        "give {:.1f} ({} attempts): no photons stand out of the dark counts in "
                        "the {} (photons beyond it? gate_offset/gate_window, excitation, "
                        "detectors)"
                    ).format(x, k, start, stop, dark, self.n_att[i], window),
                )

    def check_nodes_arrive_together(self, t, node, start, stop, window):
        """Each node's own rising edge (``photon.onset_a_mu``/``_b_mu``; NaN where its clicks
        are too few for a fit or its fit finds fewer than ``MIN_CLICKS_PER_NODE`` above the
        flat background); refused if they lie more than ``MAX_ONSET_MISMATCH`` of the
        recommended gate [``start``, ``stop``) apart: the one gate, set by the earlier node's
        edge, would miss most of the later node's photons, which do not meet the earlier ones
        at the analyser either (the combined arrivals also fit a lifetime of neither)."""
        from analysis.lifetime import fit_lifetime_tags

        onsets = []
        for i, x in enumerate("ab"):
            try:
                fit = fit_lifetime_tags(
                    t[node == i], stop_mu=float(self.offset_mu + self.window_mu)
                )
            except ValueError:
                fit = None
            # an edge of dark counts alone (a fit of little signal) says nothing about timing
            signal = 0.0 if fit is None else (1 - fit.background_fraction) * fit.clicks
            edge = fit.onset if fit is not None and signal >= MIN_CLICKS_PER_NODE else float("nan")
            onsets.append(edge)
            self.set_dataset("photon.onset_{}_mu".format(x), edge)
        apart = abs(onsets[1] - onsets[0])
        if apart > MAX_ONSET_MISMATCH * (stop - start):
            later = "b" if onsets[1] > onsets[0] else "a"
            raise refused(
                "single-photon calibration",
                (
                    "node {}'s photons arrive {:g} ns after node {}'s (rising edges at {:g} and "
                    "{:g} ns in the {}): one detection gate [{}, {}) ns cannot take both, nor do "
                    "they overlap at the analyser; equalise the two photon paths (fibre, "
                    "detection electronics, excitation timing) and calibrate again"
                ).format(
                    later,
                    apart,
                    "a" if later == "b" else "b",
                    onsets[0],
                    onsets[1],
                    window,
                    start,
                    stop,
                ),
            )
        return onsets

    def report_arrival_offset(self, t, node, onset, tau_mu, p_dark):
        """Node B's photons' mean arrival time minus node A's (``photon.arrival_offset_mu`` with
        its 95 % interval ``_lo_mu``/``_hi_mu``; NaN where a node has too few photons) from the
        earlier rising edge ``onset`` on (``analysis.arrival_offset``), each node's expected
        dark clicks taken out; a warning where it costs fidelity: the rising edges the
        calibration refuses on resolve whole ns at best, where 1 ns already costs 0.06."""
        from analysis.arrival_offset import arrival_offset, arrival_window, offset_warning

        start, stop = arrival_window(
            onset, tau_mu, (self.offset_mu, self.offset_mu + self.window_mu)
        )
        dark = self.dark_in(start, stop, p_dark)
        try:
            off = arrival_offset(
                t[node == 0],
                t[node == 1],
                (start, stop),
                (dark * self.n_att[0], dark * self.n_att[1]),
            ).offset
        except ValueError:
            off = None
        for name, v in (("", "value"), ("_lo", "lo"), ("_hi", "hi")):
            value = float("nan") if off is None else float(getattr(off, v))
            self.set_dataset("photon.arrival_offset{}_mu".format(name), value)
        warning = None if off is None else offset_warning(off, tau_mu)
        if warning is not None:
            logger.warning(warning)
