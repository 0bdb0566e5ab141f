# SPDX-License-Identifier: LGPL-3.0-or-later
"""Lifetime of the photon source: binned maximum likelihood of an exponential decay after an
onset, plus a flat background inside the gate, with a profile-likelihood interval on τ.

This is the one lifetime estimator of ionlink: the single-photon experiment calls it host-side
after its run and the offline analysis calls it on the arrival histograms of any results file.

Model. RTIO input timestamps are the 1-mu bin an edge fell in (the time rounded down), so the
likelihood is the binned one. Over the fit range [a, T) (from the histogram maximum to the end of
the gate) a click is signal with probability 1 − β, distributed as an exponential decay from a,
truncated at T and integrated over each bin, or background with probability β, uniform over
[a, T). The clicks' bin counts are multinomial. For every τ the background fraction β ∈ [0, 1]
is maximised exactly (the log-likelihood is concave in β), which gives the profile likelihood of
τ; τ̂ is its maximum and the interval is {τ : 2·(ℓ(τ̂) − ℓ(τ)) ≤ χ²₁(cl)}, open-ended (``inf``)
when the data cannot bound τ from above. The rise (detector jitter, pulse length) is not
modelled: the fit starts at the histogram maximum, where the rise is over for jitter ≪ τ, and the
tail of an exponential convolved with a narrow jitter is the same exponential.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, z_of_cl
from .scalar_search import bracketed_minimum, bracketed_root

__all__ = ["LifetimeFit", "fit_lifetime", "fit_lifetime_tags"]

_METHOD = "binned ML (exponential from onset + flat background ≥ 0 in the gate), profile likelihood"


@dataclass(frozen=True)
class LifetimeFit:
    """Result of :func:`fit_lifetime`; times in the unit of the histogram edges (mu = ns on Kasli).

    :param tau: lifetime with its profile-likelihood interval
    :param start: start of the fit range (left edge of the histogram maximum, plus ``skip``)
    :param stop: end of the fit range (end of the gate)
    :param clicks: clicks in the fit range
    :param background_fraction: fitted fraction β of those clicks that are flat background
    :param onset: rising edge of the arrivals (where a detection gate should open): the
        earliest bin (within 64 before the maximum) that starts a cluster of clicks within 4
        which the fitted flat background (dark counts) would not give (:func:`_rising_edge`)
    :param log_likelihood: maximised multinomial log-likelihood (up to a data-only constant)
    """

    tau: Estimate
    start: float
    stop: float
    clicks: int
    background_fraction: float
    onset: float
    log_likelihood: float

    def expected(self, edges: np.ndarray) -> np.ndarray:
        """Fitted clicks per bin for bins ``edges`` (zero outside the fit range)."""
        e = np.clip(np.asarray(edges, dtype=float), self.start, self.stop)
        sig, bkg = _shapes(e, self.tau.value, self.start, self.stop)
        return self.clicks * ((1 - self.background_fraction) * sig + self.background_fraction * bkg)


def _shapes(edges: np.ndarray, tau: float, a: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin probabilities of the truncated exponential from ``a`` and of the flat background."""
    x = (edges - a) / tau
    norm = -math.expm1(-(t_end - a) / tau)
    sig = (np.exp(-x[:-1]) - np.exp(-x[1:])) / norm if norm > 0 else np.diff(edges) / (t_end - a)
    return sig, np.diff(edges) / (t_end - a)


def _profile(y: np.ndarray, sig: np.ndarray, bkg: np.ndarray) -> tuple[float, float]:
    """(max over β ∈ [0, 1] of Σ y·log((1 − β)·sig + β·bkg), the maximising β)."""
    d = bkg - sig
    m = y > 0
    y, sig, d = y[m], sig[m], d[m]

    def ll(b: float) -> float:
        return float(np.dot(y, np.log(sig + b * d)))

    def grad(b: float) -> float:
        return float(np.dot(y, d / (sig + b * d)))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if np.all(sig > 0) and grad(0.0) <= 0:
            return ll(0.0), 0.0
        if grad(1.0) >= 0:
            return ll(1.0), 1.0
        lo = 0.0 if np.all(sig > 0) else 1e-300
        b = bracketed_root(grad, lo, 1.0, xtol=1e-10)
        return ll(b), b


def fit_lifetime(
    edges: np.ndarray,
    counts: np.ndarray,
    *,
    skip: float = 0.0,
    stop: float | None = None,
    cl: float = DEFAULT_CL,
) -> LifetimeFit:
    """Lifetime from an arrival-time histogram (clicks per bin; bins may be wider than 1 mu).

    :param edges: bin edges (increasing), e.g. in mu; a 1-mu timestamp ``k`` belongs to [k, k + 1)
    :param counts: clicks per bin (``len(edges) − 1`` values)
    :param skip: start the fit this much after the left edge of the histogram maximum
    :param stop: end of the gate (default: the last edge); bins beyond it are ignored
    :param cl: confidence level of the profile-likelihood interval
    :raises ValueError: on bad shapes, NaN or negative counts, or fewer than 3 bins / 10 clicks
        in the fit range
    """
    e = np.asarray(edges, dtype=float)
    c = np.asarray(counts, dtype=float)
    if e.ndim != 1 or c.ndim != 1 or e.size != c.size + 1:
        raise ValueError(f"need len(edges) = len(counts) + 1, got {e.size} and {c.size}")
    if (
        not (np.all(np.isfinite(c)) and np.all(np.isfinite(e)))
        or np.any(c < 0)
        or np.any(np.diff(e) <= 0)
    ):
        raise ValueError("histogram needs finite counts >= 0 and increasing edges")
    if not 0 < cl < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {cl}")
    peak = int(np.argmax(c)) if c.size else 0
    a = e[peak] + skip
    t_end = float(e[-1] if stop is None else min(stop, e[-1]))
    keep = (e[:-1] >= a) & (e[1:] <= t_end)
    idx = np.flatnonzero(keep)
    y = c[idx]
    if idx.size < 3 or y.sum() < 10:
        raise ValueError(
            f"lifetime fit needs >= 3 bins and >= 10 clicks from the histogram maximum on, "
            f"got {idx.size} bins and {int(y.sum())} clicks"
        )
    be = np.append(e[idx], e[idx[-1] + 1])
    a, t_end = float(be[0]), float(be[-1])
    width = t_end - a
    w_min = float(np.min(np.diff(be)))

    def nprof(log_tau: float) -> float:
        return -_profile(y, *_shapes(be, math.exp(log_tau), a, t_end))[0]

    # coarse grid (the profile can have a shoulder at large τ, where signal looks flat), then Brent
    lt_lo, lt_hi = math.log(w_min / 20), math.log(width * 200)
    grid = np.linspace(lt_lo, lt_hi, 28)
    vals = np.array([nprof(g) for g in grid])
    i = int(np.argmin(vals))
    lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    x_min, f_min = bracketed_minimum(nprof, lo_b, hi_b, xatol=1e-7)
    lt_hat, f_hat = (x_min, f_min) if f_min <= vals[i] else (float(grid[i]), float(vals[i]))
    thr = 0.5 * _chi2_1(cl)

    def excess(lt: float) -> float:
        return nprof(lt) - f_hat - thr

    lo = (
        math.exp(bracketed_root(excess, lt_lo, lt_hat, xtol=1e-9))
        if excess(lt_lo) > 0
        else math.exp(lt_lo)
    )
    hi = (
        math.exp(bracketed_root(excess, lt_hat, lt_hi, xtol=1e-9))
        if excess(lt_hi) > 0
        else math.inf
    )
    tau_hat = math.exp(lt_hat)
    _, beta = _profile(y, *_shapes(be, tau_hat, a, t_end))
    method = f"{_METHOD}, fit range [{a:g}, {t_end:g})"
    return LifetimeFit(
        Estimate(tau_hat, min(lo, tau_hat), max(hi, tau_hat), cl, method),
        a,
        t_end,
        int(y.sum()),
        float(beta),
        _rising_edge(e, c, peak, background=beta * float(y.sum()) / width),
        -f_hat,
    )


def _poisson_least(mean: float, alpha: float) -> int:
    """The least n ≥ 1 that a Poisson count of ``mean`` reaches with probability ≤ ``alpha``
    (< ½: n lies above the mean, within 12 standard deviations for any ``alpha`` ≥ 10⁻²⁰)."""
    from scipy.special import pdtrc  # P(X > k)

    if not mean > 0:
        return 1
    n = np.arange(max(1, int(mean)), int(mean + 12 * math.sqrt(mean)) + 14)
    reached = pdtrc(n - 1, mean) <= alpha
    return int(n[np.argmax(reached)]) if reached.any() else int(n[-1]) + 1


#: Probability that dark counts alone make a bin count as the start of the rising edge
#: (:func:`_rising_edge`), and a cluster of ``cluster`` width count as the edge.
EDGE_BIN_ALPHA = 0.01
EDGE_CLUSTER_ALPHA = 1e-4


def _rising_edge(
    edges: np.ndarray,
    counts: np.ndarray,
    peak: int,
    search: float = 64.0,
    cluster: float = 4.0,
    background: float = 0.0,
) -> float:
    """Rising edge of an arrival histogram: the left edge of the earliest bin within ``search``
    before the maximum (bin ``peak``) that starts a cluster of clicks within ``cluster`` that
    the flat ``background`` (clicks per unit of the edges: dark counts) would not give; the
    maximum's left edge if there is none. The bin must hold at least as many clicks as the
    background reaches with probability ≤ :data:`EDGE_BIN_ALPHA`, the cluster as many as it
    reaches with probability ≤ :data:`EDGE_CLUSTER_ALPHA`, and at least two: without
    background, the earliest click that has another within ``cluster`` (an isolated dark count
    is no edge). With an excitation pulse long against the lifetime, arrivals rise over the
    pulse before they decay: the gate must open at the rise, not at the maximum."""
    lo = edges[:-1]
    width = np.diff(edges)
    need_cluster = max(2, _poisson_least(background * cluster, EDGE_CLUSTER_ALPHA))
    need_bin: dict[float, int] = {}
    window = np.flatnonzero((lo >= lo[peak] - search) & (lo <= lo[peak]) & (counts > 0))
    for i in window:
        w = float(width[i])
        if w not in need_bin:
            need_bin[w] = _poisson_least(background * w, EDGE_BIN_ALPHA)
        if counts[i] < need_bin[w]:
            continue
        if counts[(lo >= lo[i]) & (lo < lo[i] + cluster)].sum() >= need_cluster:
            return float(lo[i])
    return float(lo[peak])


def fit_lifetime_tags(
    t_mu: np.ndarray, *, stop_mu: float | None = None, skip_mu: float = 0.0, cl: float = DEFAULT_CL
) -> LifetimeFit:
    """:func:`fit_lifetime` on integer click timestamps (mu), histogrammed in 1-mu bins.

    :param t_mu: arrival times in mu relative to the excitation (floored RTIO timestamps)
    :param stop_mu: gate end in mu (default: one past the last click); later clicks are ignored
    """
    t = np.asarray(t_mu)
    if t.size == 0:
        raise ValueError("lifetime fit needs clicks, got none")
    t = t.astype(np.int64)
    lo = int(t.min())
    hi = int(t.max()) + 1 if stop_mu is None else math.ceil(stop_mu)
    t = t[t < hi]
    counts = np.bincount(t - lo, minlength=hi - lo)[: hi - lo]
    return fit_lifetime(np.arange(lo, hi + 1, dtype=float), counts, skip=skip_mu, cl=cl)


def _chi2_1(cl: float) -> float:
    """Quantile of χ² with one degree of freedom at ``cl``."""
    return z_of_cl(cl) ** 2
