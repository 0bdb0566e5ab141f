# SPDX-License-Identifier: LGPL-3.0-or-later
"""Host-side fit of photon arrival times (used by the single-photon experiment)."""
import numpy as np


def fit_truncated_exponential(t_mu, t_max_mu, skip_mu=2.0, background=True):
    """Maximum-likelihood lifetime from arrival times ``t_mu`` (mu, relative to the excitation).

    The onset is the peak of the 1-mu histogram; the fit uses the clicks in
    [peak + ``skip_mu``, ``t_max_mu``) (past the rise, which is shaped by jitter and the pulse).

    RTIO input timestamps are the 1-mu bin of the edge (the arrival time rounded down), so the
    likelihood is the binned one: a truncated geometric distribution P(k) ∝ exp(-k/tau) over the
    bins k of the window (fitting the continuous exponential to floored times would bias tau by
    -0.5 mu). With ``background`` a flat component (dark counts, uniform over the bins) is fitted
    along, fraction ``bg_fraction``.

    Returns ``tau_mu``, ``tau_err_mu`` (from the observed Fisher information, the background
    fraction profiled), ``onset_mu`` (the rising edge, :func:`rising_edge`), ``n`` (clicks
    fitted) and ``bg_fraction``.
    Raises ``ValueError`` when there are too few clicks or the fit does not converge.
    """
    from scipy.optimize import minimize  # host only; imported lazily

    t = np.asarray(t_mu, dtype=np.int64)
    if len(t) < 5:
        raise ValueError("too few clicks for a lifetime fit")
    hist = np.bincount(np.clip(t, 0, None))
    peak = int(np.argmax(hist))
    a = peak + int(round(skip_mu))
    n_bins = int(np.ceil(t_max_mu)) - a
    k = t[(t >= a) & (t < a + n_bins)] - a
    n = len(k)
    if n < 5 or n_bins < 2:
        raise ValueError("too few clicks for a lifetime fit")
    counts = np.bincount(k, minlength=n_bins).astype(float)
    kk = np.arange(n_bins, dtype=float)

    def nll(p):
        tau, beta = p
        if tau <= 0 or not 0.0 <= beta < 1.0:
            return np.inf
        q = np.exp(-1.0 / tau)
        # truncated geometric: (1 - q) q^k / (1 - q^K)
        log_norm = np.log(-np.expm1(-1.0 / tau)) - np.log(-np.expm1(-n_bins / tau))
        p_sig = np.exp(log_norm + kk * np.log(q))
        prob = (1 - beta) * p_sig + beta / n_bins
        with np.errstate(divide="ignore"):
            return -float(np.sum(counts * np.log(prob)))

    tau0 = max(float(k.mean()), 0.5)
    if background:
        best = None
        for beta0 in (1e-4, 1e-2, 0.1):
            res = minimize(nll, [tau0, beta0], method="Nelder-Mead",
                           options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
            if best is None or res.fun < best.fun:
                best = res
        if not best.success:
            raise ValueError("the lifetime fit did not converge ({})".format(best.message))
        tau, beta = float(best.x[0]), float(max(best.x[1], 0.0))
    else:
        from scipy.optimize import minimize_scalar
        res = minimize_scalar(lambda x: nll((x, 0.0)), bounds=(0.05, 10 * n_bins),
                              method="bounded")
        tau, beta = float(res.x), 0.0
    # observed information (numerical Hessian); tau error with the background profiled
    h = np.array([1e-3 * tau, max(1e-3 * beta, 1e-6)])
    p0 = np.array([tau, beta])
    if not background or beta < 2 * h[1]:
        # at the boundary beta = 0: the one-parameter curvature
        f = lambda x: nll((x, beta))  # noqa: E731
        curv = (f(tau + h[0]) - 2 * f(tau) + f(tau - h[0])) / h[0] ** 2
        err = float(1 / np.sqrt(curv)) if curv > 0 else float("nan")
    else:
        hess = np.zeros((2, 2))
        for i in range(2):
            for j in range(2):
                ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
                hess[i, j] = (nll(p0 + ei + ej) - nll(p0 + ei - ej) - nll(p0 - ei + ej)
                              + nll(p0 - ei - ej)) / (4 * h[i] * h[j])
        try:
            cov = np.linalg.inv(hess)
            err = float(np.sqrt(cov[0, 0])) if cov[0, 0] > 0 else float("nan")
        except np.linalg.LinAlgError:
            err = float("nan")
    onset = float(rising_edge(t, peak))
    return {"tau_mu": tau, "tau_err_mu": err, "onset_mu": onset, "n": n, "bg_fraction": beta}


def rising_edge(t_mu, peak_mu, search_mu=64, cluster_mu=4):
    """Rising edge (mu) of a photon arrival histogram: the earliest click within ``search_mu``
    before the histogram peak ``peak_mu`` that has another click within ``cluster_mu`` after
    it (an isolated dark count is not an edge); the earliest click there if none has.

    The edge, not the peak, is where a detection gate should open: with an excitation pulse
    that is long against the lifetime the arrivals rise over the pulse before they decay."""
    t = np.sort(np.asarray(t_mu, dtype=np.int64))
    t = t[(t >= peak_mu - search_mu) & (t <= peak_mu)]
    if len(t) == 0:
        return int(peak_mu)
    later = np.searchsorted(t, t + cluster_mu, side="left") - np.arange(len(t)) - 1
    edge = np.flatnonzero(later >= 1)
    return int(t[edge[0]] if len(edge) else t[0])
