# SPDX-License-Identifier: LGPL-3.0-or-later
"""Hong–Ou–Mandel visibility with an exact interval that respects the boundary V ≤ 1.

Coincidences per setting are Poisson (the coincidence probability per attempt is ≪ 1):
k₀ ~ Pois(n₀·(1 − V)·p) at zero delay and k_r ~ Pois(n_r·p) at the reference delay, with the
reference coincidence probability p a nuisance parameter. Conditioning on the total k₀ + k_r
removes p: k₀ is then Binomial(k₀ + k_r, π) with π = n₀u/(n₀u + n_r), u = 1 − V, a monotone map.
The Clopper–Pearson interval on π therefore gives an interval on V with coverage ≥ cl for every
true V (the standard exact method for a ratio of Poisson rates). The estimate is
V̂ = 1 − (k₀/n₀)/(k_r/n_r); with k₀ = 0 it sits on the physical boundary and the interval is
[V_lo, 1] (no symmetric error). A likelihood-ratio interval was tried first: it under-covers
(91 % for a nominal 95 %) with tens of coincidences, the usual regime of a HOM scan.
"""

from __future__ import annotations

import math

import numpy as np

from .estimate import DEFAULT_CL, Estimate, clopper_pearson

__all__ = [
    "ACCIDENTAL_DRAWS",
    "MIN_VISIBILITY_LO",
    "TooFewCoincidences",
    "accidental_coincidences",
    "hom_visibility",
    "hom_visibility_corrected",
    "pooled_counts",
]

#: draws of the dark rates over which :func:`hom_visibility_corrected` marginalises the
#: accidentals (the likelihood's mean over them)
ACCIDENTAL_DRAWS = 400

#: a raw visibility whose interval reaches below this is not reported (:class:`TooFewCoincidences`):
#: it cannot exclude twice the reference's coincidences at zero delay, so it says nothing of the
#: photons (0 at zero delay and 1 at the reference, equal attempts: V = 1 in [−38, 1]). Not
#: applied to :func:`hom_visibility_corrected`, whose interval is wide where accidentals
#: dominate however many the coincidences (711 and 711 with 600 accidental: [−1.06, 0.52])
MIN_VISIBILITY_LO = -1.0


class TooFewCoincidences(ValueError):
    """The coincidences are too few for a visibility: its interval reaches below
    :data:`MIN_VISIBILITY_LO` (the message gives the counts and the interval)."""


def _informative(v: Estimate, k0: int, kr: int) -> Estimate:
    """``v``, or :class:`TooFewCoincidences` when its interval reaches below
    :data:`MIN_VISIBILITY_LO`."""
    if v.lo >= MIN_VISIBILITY_LO:
        return v
    raise TooFewCoincidences(
        f"too few coincidences for a visibility: {k0} at zero delay and {kr} at the reference "
        f"give V = {v.value:.3g} in [{v.lo:.3g}, {v.hi:.3g}] ({v.cl:.2g} CL), an interval "
        f"reaching below {MIN_VISIBILITY_LO:g} (twice the reference's coincidences at zero "
        "delay not excluded): take more runs per delay"
    )


def pooled_counts(
    delay_mu: np.ndarray,
    coincidences: np.ndarray,
    attempts: np.ndarray,
    *,
    ref_min_delay_mu: int | None = None,
) -> tuple[int, int, int, int]:
    """(k₀, n₀, k_r, n_r): coincidences and attempts pooled at the smallest |delay| and at the
    reference delays (|delay| >= ``ref_min_delay_mu``, default the largest |delay|).

    :raises ValueError: on shape mismatch, fewer than two settings, counts outside [0, attempts],
        overlapping zero and reference settings or settings without attempts
    """
    d = np.abs(np.asarray(delay_mu, dtype=np.int64))
    c = np.asarray(coincidences, dtype=np.int64)
    a = np.asarray(attempts, dtype=np.int64)
    if not (d.shape == c.shape == a.shape) or d.ndim != 1:
        raise ValueError(f"HOM arrays differ in shape: {d.shape}, {c.shape}, {a.shape}")
    if d.size < 2:
        raise ValueError("HOM needs at least two delay settings")
    if np.any(c < 0) or np.any(c > a):
        raise ValueError("HOM needs 0 <= coincidences <= attempts")
    ref_min = int(d.max()) if ref_min_delay_mu is None else int(ref_min_delay_mu)
    z, r = d == d.min(), d >= ref_min
    if np.any(z & r):
        raise ValueError("HOM reference delays overlap the zero-delay setting")
    k0, n0, kr, nr = int(c[z].sum()), int(a[z].sum()), int(c[r].sum()), int(a[r].sum())
    if n0 == 0 or nr == 0:
        raise ValueError("HOM settings with zero attempts")
    return k0, n0, kr, nr


def hom_visibility(
    delay_mu: np.ndarray,
    coincidences: np.ndarray,
    attempts: np.ndarray,
    *,
    ref_min_delay_mu: int | None = None,
    cl: float = DEFAULT_CL,
) -> Estimate:
    """HOM visibility V = 1 − P_c(0)/P_c(ref) with its exact conditional interval (V ≤ 1).

    :param delay_mu: delay of node B's excitation per setting, in mu
    :param coincidences: cross-port same-polarisation coincidences per setting
    :param attempts: attempts per setting
    :raises ValueError: see :func:`pooled_counts`; also without reference coincidences
    :raises TooFewCoincidences: an interval reaching below :data:`MIN_VISIBILITY_LO`
    """
    k0, n0, kr, nr = pooled_counts(
        delay_mu, coincidences, attempts, ref_min_delay_mu=ref_min_delay_mu
    )
    if kr == 0:
        raise ValueError("no coincidences at the reference delay; visibility undefined")
    pi = clopper_pearson(k0, k0 + kr, cl=cl)  # k0 | k0 + kr ~ Bin(k0 + kr, n0·u / (n0·u + nr))

    def u_of(q: float) -> float:
        return math.inf if q >= 1 else q * nr / (n0 * (1 - q))

    method = (
        f"exact conditional interval (Clopper-Pearson on k0 given k0 + k_ref), V <= 1; "
        f"{k0}/{n0} coincidences/attempts at zero delay, {kr}/{nr} at the reference"
    )
    v = Estimate(1 - k0 * nr / (n0 * kr), 1 - u_of(pi.hi), 1 - u_of(pi.lo), cl, method)
    return _informative(v, k0, kr)


def accidental_coincidences(
    singles: np.ndarray, attempts: np.ndarray, dark_probability: np.ndarray
) -> np.ndarray:
    """Expected coincidences per setting (counts) in which a dark count stands for one or both
    clicks, from each setting's singles (``singles`` (K, 4): cycles in which each detector
    clicked, its ``attempts``) and each detector's probability of a dark count in the gate
    (``dark_probability`` (4,), or (M, 4) for M draws of it: the result is then (M, K)): with
    p_i = 1 − (1 − s_i)/(1 − d_i) the photon-click probability of detector i (s_i its
    single-click probability per cycle), pattern 0b0101 takes (p₀d₂ + d₀p₂ + d₀d₂)(1 − s₁)(1 − s₃)
    a cycle, 0b1010 likewise (first order in the photons' click probabilities, which are ≪ 1)."""
    n = np.asarray(attempts, dtype=float)
    s = np.asarray(singles, dtype=float) / np.where(n > 0, n, 1.0)[:, None]
    d = np.asarray(dark_probability, dtype=float)[..., None, :]
    p = np.clip(1 - (1 - s) / (1 - d), 0.0, 1.0)
    out = np.zeros(p.shape[:-1])
    for i, j, x, y in ((0, 2, 1, 3), (1, 3, 0, 2)):
        pair = p[..., i] * d[..., j] + d[..., i] * p[..., j] + d[..., i] * d[..., j]
        out += pair * (1 - s[:, x]) * (1 - s[:, y])
    return out * n


def hom_visibility_corrected(
    delay_mu: np.ndarray,
    coincidences: np.ndarray,
    attempts: np.ndarray,
    accidentals: np.ndarray,
    *,
    accidental_draws: np.ndarray | None = None,
    ref_min_delay_mu: int | None = None,
    cl: float = DEFAULT_CL,
) -> Estimate:
    """HOM visibility of the photon pairs alone: V = 1 − (k₀ − a₀)/n₀ ÷ (k_r − a_r)/n_r with the
    expected accidental coincidences ``accidentals`` per setting (:func:`accidental_coincidences`)
    pooled as the counts are (:func:`pooled_counts`). Interval: profile likelihood of
    k₀ ~ Pois(n₀·u·g + a₀), k_r ~ Pois(n_r·g + a_r) in u = 1 − V ≥ 0 (V ≤ 1), the reference's
    pair rate g profiled; approximate where the counts are few.

    :param accidental_draws: draws of the accidentals per setting (``(draws, settings)``) from
        the dark rates' uncertainty (:meth:`analysis.dark_rate.DarkCalibration.rate_draws`); the
        likelihood is then their mean over the draws (the accidentals marginalised, Cousins and
        Highland, NIM A 320, 331 (1992)), so a short dark-count measurement widens the interval.
        ``None``: the accidentals are taken as known
    :raises ValueError: see :func:`pooled_counts`; also when the reference's coincidences do
        not exceed its accidentals
    """
    from scipy.optimize import brentq, minimize_scalar
    from scipy.stats import chi2

    k0, n0, kr, nr = pooled_counts(
        delay_mu, coincidences, attempts, ref_min_delay_mu=ref_min_delay_mu
    )
    d = np.abs(np.asarray(delay_mu, dtype=np.int64))
    ref_min = int(d.max()) if ref_min_delay_mu is None else int(ref_min_delay_mu)
    zero, ref = d == d.min(), d >= ref_min
    acc = np.asarray(accidentals, dtype=float)
    a0, ar = float(acc[zero].sum()), float(acc[ref].sum())
    if kr <= ar:
        raise ValueError(
            f"the reference's {kr} coincidences do not exceed its {ar:.1f} expected accidental "
            "ones; visibility undefined"
        )
    draws = acc[None, :] if accidental_draws is None else np.asarray(accidental_draws, float)
    if draws.ndim != 2 or draws.shape[1] != acc.size:
        raise ValueError(f"accidental draws need shape (draws, {acc.size}), got {draws.shape}")
    a0s, ars = draws[:, zero].sum(axis=1), draws[:, ref].sum(axis=1)

    def terms(u: float, g: float) -> np.ndarray:
        """log-likelihood of each draw at (u, g)."""
        l0, lr = n0 * u * g + a0s, nr * g + ars
        with np.errstate(divide="ignore"):
            t0 = k0 * np.log(l0) if k0 > 0 else 0.0
            tr = kr * np.log(lr) if kr > 0 else 0.0
        return np.asarray(t0 - l0 + tr - lr, dtype=float)

    def weights(t: np.ndarray) -> tuple[np.ndarray, float]:
        """The draws' weights exp(t)/Σ exp(t) and log of the mean of exp(t)."""
        top = float(t.max())
        if not math.isfinite(top):
            return np.full(t.size, 1 / t.size), top
        e = np.exp(t - top)
        total = float(e.sum())
        return e / total, top + math.log(total / t.size)

    def profile(u: float) -> float:
        """max over g > 0 of the (marginal) log-likelihood at u."""

        def slope(g: float) -> float:
            w, _ = weights(terms(u, g))
            s = k0 * n0 * u / (n0 * u * g + a0s) - n0 * u + kr * nr / (nr * g + ars) - nr
            return float(np.sum(w * s))

        hi = (k0 + kr + 10.0) / min(nr, n0 * u if u > 0 else nr)
        g = brentq(slope, 1e-300, hi) if slope(1e-300) > 0 > slope(hi) else 1e-300
        return weights(terms(u, g))[1]

    u_hat = max((k0 - a0) / n0 / ((kr - ar) / nr), 0.0)
    top, u_top = profile(u_hat), u_hat
    if accidental_draws is not None:  # the marginal likelihood peaks near, not at, u_hat
        best = minimize_scalar(
            lambda u: -profile(u), bounds=(0.0, max(2 * u_hat, 1.0)), method="bounded"
        )
        if -best.fun > top:
            top, u_top = -float(best.fun), float(best.x)
    cut = 0.5 * float(chi2.ppf(cl, 1))

    def below(u: float) -> float:
        return top - profile(u) - cut

    at_zero = below(0.0)
    u_lo = 0.0
    if at_zero > 0:
        u_lo = brentq(below, 0.0 if math.isfinite(at_zero) else 1e-12 * u_top, u_top)
    u_far = max(2 * u_top, 1.0)
    while below(u_far) <= 0:
        u_far *= 2
    u_hi = brentq(below, u_top, u_far)
    known = (
        "subtracted as known"
        if accidental_draws is None
        else f"marginalised over {a0s.size} draws of the dark rates"
    )
    method = (
        f"profile likelihood, accidental coincidences {known} ({a0:.1f} at zero "
        f"delay, {ar:.1f} at the reference), V <= 1; {k0}/{n0} coincidences/attempts at zero "
        f"delay, {kr}/{nr} at the reference"
    )
    return Estimate(1 - u_hat, min(1 - u_hi, 1 - u_hat), max(1 - u_lo, 1 - u_hat), cl, method)
