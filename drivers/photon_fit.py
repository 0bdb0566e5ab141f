# SPDX-License-Identifier: LGPL-3.0-or-later
"""Host-side fit of photon arrival times (used by the single-photon experiment)."""
import numpy as np


def fit_truncated_exponential(t_mu, t_max_mu, skip_mu=2.0):
    """Maximum-likelihood lifetime from arrival times ``t_mu`` (mu, relative to the excitation).

    The onset is the peak of the 1-mu histogram; the fit uses the clicks in
    [peak + ``skip_mu``, ``t_max_mu``) (past the rise, which is shaped by jitter and the pulse), with
    a truncated exponential. Returns ``tau_mu``, ``tau_err_mu`` (from the observed Fisher
    information), ``onset_mu`` (peak - 2 sigma of the rise, >= first click) and ``n`` (clicks fitted).
    """
    from scipy.optimize import minimize_scalar  # host only; imported lazily

    t = np.asarray(t_mu, dtype=float)
    hist = np.bincount(np.clip(t, 0, None).astype(int))
    peak = float(np.argmax(hist))
    a = peak + skip_mu
    x = t[(t >= a) & (t < t_max_mu)] - a
    b = t_max_mu - a
    n = len(x)
    if n < 5:
        raise ValueError("too few clicks for a lifetime fit")

    def nll(tau):
        return n * np.log(tau) + x.sum() / tau + n * np.log1p(-np.exp(-b / tau))

    res = minimize_scalar(nll, bounds=(0.1, 10 * b), method="bounded")
    tau = float(res.x)
    h = 1e-3 * tau
    curv = (nll(tau + h) - 2 * nll(tau) + nll(tau - h)) / h ** 2
    err = float(1 / np.sqrt(curv)) if curv > 0 else float("nan")
    rise = t[(t < peak) & (t >= peak - 10)]
    onset = max(float(t.min()), peak - 2 * (float(np.std(rise)) if len(rise) > 2 else 1.0))
    return {"tau_mu": tau, "tau_err_mu": err, "onset_mu": onset, "n": n}
