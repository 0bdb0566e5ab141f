# SPDX-License-Identifier: LGPL-3.0-or-later
"""The remote-entanglement experiments' live dashboard figures (a mixin of
:class:`drivers.link.LinkExperiment`): progress, herald rate, ψ± counts and a running fidelity
estimate from the records' running sums, sent through :class:`drivers.live.LivePublisher`."""

from math import pi

import numpy as np

from drivers.analysis_settings import BASIS_Z
from drivers.live import live_figures


class LinkLive:
    """The live datasets of the heralding loop (``live.*``, ``ionlink.progress``)."""

    def update_live(self):
        """Progress, herald rate, psi+/- counts and a running fidelity estimate, from the
        records' running sums (the cost of an update does not grow with the heralds)."""
        r = self.records
        n = len(r)
        self.set_dataset(
            "ionlink.progress", n / max(1, self.n_total), broadcast=True, archive=False
        )
        if n == 0:
            return
        self.set_dataset("live.psi_plus", r.psi_plus, broadcast=True, archive=False)
        self.set_dataset("live.psi_minus", r.psi_minus, broadcast=True, archive=False)
        f, sigma = self.fidelity_estimate()
        t_first, t_last = r.first_last_t_lab()
        figures = live_figures(
            n,
            t_first,
            t_last,
            r.attempts_after_first,
            self.core.ref_period,
            int(self.cycle_mu),
            f,
            sigma,
        )
        self.live.update(figures, n, r.t_det_rows(self.live.heralds_sent), self.core.ref_period)

    def fidelity_estimate(self):
        """Running F = (P_odd + C)/2 with psi+/- sign correction: P_odd from ZZ heralds, C from
        XX/YY heralds (tomography) or the mean |parity| at the extreme analysis phases (parity
        scan). NaN until both are available. A quick dashboard number, not the analysis.
        Returns ``(F, σ_F)``, σ_F from the sample variances of the two terms."""
        s = self.settings
        tally = self.records.tally  # [setting, psi + 1, odd readout parity] -> heralds
        ba, bb = np.array(s["basis_a"]), np.array(s["basis_b"])
        zz = (ba == BASIS_Z) & (bb == BASIS_Z)
        odd = tally[zz].sum(axis=(0, 1))
        p_odd, var_p = _mean_and_variance([0.0, 1.0], odd)
        xy = (ba == bb) & (ba != BASIS_Z)
        # each herald's term: psi x readout parity (x 2 cos(4 pi phase) in a parity scan)
        weight = np.cos(4 * pi * np.array(s["phase"])) * 2 if self.mode == "parity" else None
        values, counts = [], []
        for k in np.flatnonzero(xy):
            w = 1.0 if weight is None else float(weight[k])
            for psi in (-1, 0, 1):
                for j, parity in enumerate((1.0, -1.0)):
                    values.append(psi * parity * w)
                    counts.append(int(tally[k, psi + 1, j]))
        c, var_c = _mean_and_variance(values, counts)
        if self.mode != "parity":
            c = abs(c)
        if self.mode == "z":
            return p_odd, float(np.sqrt(var_p))
        return 0.5 * (p_odd + c), 0.5 * float(np.sqrt(var_p + var_c))


def _mean_and_variance(values, counts):
    """Mean of samples taking ``values[i]`` ``counts[i]`` times, and the variance of that mean
    (NaN, NaN without samples; the binomial p(1-p)/n for 0/1 samples)."""
    x = np.asarray(values, dtype=float)
    w = np.asarray(counts, dtype=float)
    n = w.sum()
    if n == 0:
        return np.nan, np.nan
    mean = float((w * x).sum() / n)
    return mean, float((w * (x - mean) ** 2).sum() / n / n)
