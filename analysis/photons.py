# SPDX-License-Identifier: LGPL-3.0-or-later
"""Photon timing: arrival histograms, lifetime fit, gate trade-off, HOM visibility, dark rates."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, from_samples, jeffreys_draws, poisson_rate

__all__ = [
    "IncrementalHistogram",
    "LifetimeFit",
    "WindowPoint",
    "dark_rates",
    "fit_lifetime",
    "hom_visibility",
    "window_tradeoff",
]


class IncrementalHistogram:
    """Histogram of integer time tags (mu) with unit bins, filled chunk by chunk.

    Memory is proportional to the tag range, not to the number of tags. Tags outside
    ``[lo, hi)`` (when given) are counted in ``underflow``/``overflow``.

    :param lo: lowest tag kept, in mu (``None``: grows to the data)
    :param hi: one past the highest tag kept, in mu (``None``: grows to the data)
    """

    def __init__(self, lo: int | None = None, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi
        self.offset: int | None = lo
        self.counts = np.zeros(0 if lo is None or hi is None else hi - lo, dtype=np.int64)
        self.underflow = 0
        self.overflow = 0
        self.total = 0

    def add(self, tags: np.ndarray, *, scratch: bool = False, tmax: int | None = None) -> None:
        """Add a chunk of int64 tags in mu.

        :param scratch: the caller no longer needs ``tags``; it may be overwritten (saves a copy)
        :param tmax: ``tags.max()`` if the caller already has it (saves a pass)
        """
        t = np.asarray(tags)
        if t.size == 0:
            return
        self.total += t.size
        if self.lo is not None and self.hi is not None:
            ok = (t >= self.lo) & (t < self.hi)
            n_ok = int(np.count_nonzero(ok))
            if n_ok != t.size:
                self.underflow += int(np.count_nonzero(t < self.lo))
                self.overflow += t.size - n_ok - int(np.count_nonzero(t < self.lo))
                t = t[ok]
            self.counts += np.bincount((t - self.lo).astype(np.intp, copy=False), minlength=self.counts.size)
            return
        tmax = int(t.max()) if tmax is None else int(tmax)
        if (self.offset is None or self.offset == 0) and tmax < (1 << 24):
            try:  # fast path for non-negative tags: no shift needed (bincount rejects negatives)
                c = np.bincount(t if t.dtype == np.intp else t.astype(np.intp))
            except ValueError:
                c = None
            if c is not None:
                self.offset = 0
                if c.size > self.counts.size:
                    self.counts = np.concatenate([self.counts, np.zeros(c.size - self.counts.size, np.int64)])
                self.counts[: c.size] += c
                return
        tmin = int(t.min())
        if self.offset is None:
            self.offset = tmin
        if tmin < self.offset:
            self.counts = np.concatenate([np.zeros(self.offset - tmin, np.int64), self.counts])
            self.offset = tmin
        need = tmax - self.offset + 1
        if need > self.counts.size:
            self.counts = np.concatenate([self.counts, np.zeros(need - self.counts.size, np.int64)])
        if scratch and t.dtype == np.intp and t.flags.writeable:
            t = np.subtract(t, self.offset, out=t)
        else:
            t = (t - self.offset).astype(np.intp, copy=False)
        self.counts += np.bincount(t, minlength=self.counts.size)

    @property
    def edges_mu(self) -> np.ndarray:
        """Bin edges in mu (``len(counts) + 1`` values)."""
        off = 0 if self.offset is None else self.offset
        return np.arange(off, off + self.counts.size + 1, dtype=np.int64)

    def rebinned(self, max_bins: int = 400) -> tuple[np.ndarray, np.ndarray]:
        """(edges_mu, counts) over the occupied range, merged into at most ``max_bins`` equal bins."""
        nz = np.flatnonzero(self.counts)
        first = int(nz[0]) if nz.size else 0
        counts = self.counts[first:]
        w = max(1, -(-counts.size // max_bins))
        n = -(-counts.size // w) * w
        c = np.pad(counts, (0, n - counts.size)).reshape(-1, w).sum(axis=1)
        off = (0 if self.offset is None else self.offset) + first
        return off + w * np.arange(c.size + 1, dtype=np.int64), c


@dataclass(frozen=True)
class LifetimeFit:
    """Exponential decay A·exp(−(t − t0)/τ) + b fitted to an arrival histogram.

    :param tau_ns: lifetime in ns (mu are ns on Kasli; the caller converts otherwise)
    :param amplitude: counts per bin at ``t0_ns``
    :param background: counts per bin (flat)
    :param t0_ns: start of the fit region in ns (the histogram peak)
    """

    tau_ns: Estimate
    amplitude: float
    background: float
    t0_ns: float
    bin_ns: float

    def __call__(self, t_ns: np.ndarray) -> np.ndarray:
        """Model counts per bin at times ``t_ns``."""
        t = np.asarray(t_ns, dtype=float)
        return np.where(t >= self.t0_ns, self.amplitude * np.exp(-(t - self.t0_ns) / self.tau_ns.value), 0.0) + self.background


def _nll(params: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    la, lt, b = params
    a, tau = np.exp(la), np.exp(lt)
    ex = np.exp(-t / tau)
    mu = a * ex + b + 1e-12
    r = 1 - y / mu
    g = np.array([(r * a * ex).sum(), (r * a * ex * t / tau).sum(), r.sum()])
    return float((mu - y * np.log(mu)).sum()), g


def _fit(t: np.ndarray, y: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """ML estimate of (log A, log τ, b): Fisher scoring, else bounded L-BFGS-B (at a bound)."""
    lt_lo, lt_hi = np.log(t[1] - t[0]) - 3, np.log(t[-1] + 1) + 3
    x = _fit_scoring(t, y, x0, (lt_lo, lt_hi))
    if x is not None:
        return x
    from scipy import optimize  # lazy: only needed when the estimate sits at a bound

    res = optimize.minimize(_nll, x0, args=(t, y), jac=True, method="L-BFGS-B",
                            bounds=[(None, None), (lt_lo, lt_hi), (0, None)])
    return res.x


def _fit_scoring(t: np.ndarray, y: np.ndarray, x0: np.ndarray, lt_bounds: tuple[float, float],
                 max_iter: int = 100) -> np.ndarray | None:
    """Fisher scoring (Newton with the expected information) with step halving on the Poisson NLL.

    Returns ``None`` if the iteration leaves the interior (b < 0, log τ outside its bounds) or does
    not converge; the caller then uses a bounded optimiser.
    """
    x = np.array(x0, dtype=float)
    if x[2] <= 0:
        x[2] = max(1e-3 * float(np.mean(y)), 1e-9)
    f, _ = _nll(x, t, y)
    for _ in range(max_iter):
        a, tau = np.exp(x[0]), np.exp(x[1])
        ex = a * np.exp(-t / tau)
        mu = ex + x[2] + 1e-12
        g = np.stack([ex, ex * t / tau, np.ones_like(t)])
        score = g @ (y / mu - 1)
        info = (g / mu) @ g.T
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(step)):
            return None
        for _ in range(40):
            xn = x + step
            if xn[2] >= 0 and lt_bounds[0] <= xn[1] <= lt_bounds[1]:
                fn, _ = _nll(xn, t, y)
                if fn <= f:
                    break
            step = step / 2
        else:
            return None
        x, f_old, f = xn, f, fn
        if float(score @ step) < 1e-10 * max(1.0, abs(f)) or abs(f_old - f) <= 1e-13 * max(1.0, abs(f)):
            if xn[2] <= 0:  # at the b = 0 bound: let the bounded optimiser decide
                return None
            return x
    return None


def fit_lifetime(
    edges_ns: np.ndarray,
    counts: np.ndarray,
    *,
    cl: float = DEFAULT_CL,
    n_boot: int = 0,
    rng: np.random.Generator | None = None,
) -> LifetimeFit:
    """Poisson maximum-likelihood fit of an exponential decay plus flat background.

    The fit uses the bins from the histogram maximum onwards. Interval on τ:

    * ``n_boot = 0`` (default): asymptotic Wald interval on log τ from the (expected) Fisher
      information of the binned Poisson likelihood at the ML estimate, I = Σᵢ ∇μᵢ ∇μᵢᵀ / μᵢ
      (parameters log A, log τ, b; the nuisance parameters enter through I⁻¹), i.e.
      τ̂·exp(±z·√(I⁻¹)_ττ). Standard for large counts (an arrival histogram has millions).
    * ``n_boot > 0``: parametric bootstrap (Poisson resampling from the fitted model,
      ``n_boot`` refits), percentile.

    :param edges_ns: bin edges in ns (uniform)
    :param counts: counts per bin
    :raises ValueError: with fewer than 5 bins after the peak or fewer than 20 counts there
    """
    edges = np.asarray(edges_ns, dtype=float)
    y_all = np.asarray(counts, dtype=float)
    if edges.size != y_all.size + 1:
        raise ValueError(f"need len(edges) = len(counts) + 1, got {edges.size} and {y_all.size}")
    if not np.all(np.isfinite(y_all)):
        raise ValueError("histogram contains NaN or inf")
    i0 = int(np.argmax(y_all)) if y_all.size else 0
    y = y_all[i0:]
    centres = 0.5 * (edges[:-1] + edges[1:])[i0:]
    if y.size < 5 or y.sum() < 20:
        raise ValueError(f"lifetime fit needs >= 5 bins and >= 20 counts after the peak, got {y.size} bins, {int(y.sum())} counts")
    t = centres - centres[0]
    bin_ns = float(edges[1] - edges[0])
    b0 = max(float(np.median(y[-max(3, y.size // 10):])), 0.0)
    above = y - b0
    k = int(np.argmax(above < above[0] / np.e)) if np.any(above < above[0] / np.e) else y.size - 1
    tau0 = max(t[max(k, 1)], bin_ns)
    x0 = np.array([np.log(max(above[0], 1.0)), np.log(tau0), b0])
    x = _fit(t, y, x0)
    tau_hat = float(np.exp(x[1]))
    se = _fisher_se_log_tau(t, x) if n_boot <= 0 else float("nan")
    if np.isfinite(se) and se > 0:
        from scipy import special

        z = float(special.ndtri(0.5 + cl / 2))
        method = "Poisson ML fit, asymptotic Wald interval on log τ from the Fisher information"
        tau = Estimate(tau_hat, tau_hat * float(np.exp(-z * se)), tau_hat * float(np.exp(z * se)), cl, method)
    else:
        b = n_boot if n_boot > 0 else 100  # Fisher information singular: fall back to the bootstrap
        rng = rng if rng is not None else np.random.default_rng(0)
        mu = np.exp(x[0]) * np.exp(-t / np.exp(x[1])) + x[2]
        taus = np.array([np.exp(_fit(t, rng.poisson(mu).astype(float), x)[1]) for _ in range(b)])
        method = f"Poisson ML fit, parametric bootstrap (Poisson), percentile, B={b}"
        tau = from_samples(tau_hat, taus, cl=cl, method=method)
    return LifetimeFit(tau, float(np.exp(x[0])), float(x[2]), float(centres[0]), bin_ns)


def _fisher_se_log_tau(t: np.ndarray, x: np.ndarray) -> float:
    """Standard error of log τ from the expected Fisher information of the binned Poisson fit."""
    a, tau, b = float(np.exp(x[0])), float(np.exp(x[1])), float(x[2])
    ex = a * np.exp(-t / tau)
    mu = ex + b + 1e-12
    g = np.stack([ex, ex * t / tau, np.ones_like(t)])  # dμ/d(log A), dμ/d(log τ), dμ/db
    info = (g / mu) @ g.T
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return float("nan")
    v = float(cov[1, 1])
    return float(np.sqrt(v)) if np.isfinite(v) and v > 0 else float("nan")


@dataclass(frozen=True)
class WindowPoint:
    """One point of the detection-window trade-off curve.

    :param gate_stop_mu: gate closing time in mu (gate = [gate_start, gate_stop])
    :param heralds: heralds whose clicks all fall in the gate
    :param fraction: heralds kept / all heralds (rate relative to the full gate)
    :param rate_hz: kept heralds per lab second (``nan`` without lab time)
    :param fidelity: fidelity estimate on the kept heralds (``None`` if it failed)
    """

    gate_stop_mu: int
    heralds: int
    fraction: float
    rate_hz: float
    fidelity: Estimate | None


def window_tradeoff(
    t_last_mu: np.ndarray,
    gate_stops_mu: np.ndarray,
    fidelity_of: Callable[[np.ndarray], Estimate],
    *,
    lab_time_s: float = float("nan"),
) -> list[WindowPoint]:
    """Rate against fidelity as the gate closes earlier (from stored click times).

    :param t_last_mu: per herald, the latest click time of the heralding pair, in mu
    :param gate_stops_mu: candidate gate closing times, in mu
    :param fidelity_of: maps a boolean herald mask to a fidelity estimate; exceptions
        (e.g. too few heralds) give ``fidelity = None`` for that point
    :param lab_time_s: lab time in s for the absolute rate
    """
    t = np.asarray(t_last_mu)
    n = t.size
    out = []
    for stop in np.asarray(gate_stops_mu, dtype=np.int64):
        mask = t <= stop
        k = int(np.count_nonzero(mask))
        try:
            fid: Estimate | None = fidelity_of(mask) if k else None
        except ValueError:
            fid = None
        rate = k / lab_time_s if lab_time_s > 0 else float("nan")
        out.append(WindowPoint(int(stop), k, k / n if n else float("nan"), rate, fid))
    return out


def hom_visibility(
    delay_mu: np.ndarray,
    coincidences: np.ndarray,
    attempts: np.ndarray,
    *,
    ref_min_delay_mu: int | None = None,
    cl: float = DEFAULT_CL,
    n_boot: int = 4000,
    rng: np.random.Generator | None = None,
) -> Estimate:
    """HOM visibility V = 1 − P_c(0)/P_c(∞) from coincidences per attempt vs delay.

    P_c(0) pools the settings at the smallest |delay|; P_c(∞) pools settings with
    |delay| >= ``ref_min_delay_mu`` (default: the largest |delay|). Interval: bootstrap with
    Jeffreys draws of both coincidence probabilities (percentile).

    :raises ValueError: on shape mismatch, empty input, zero attempts or no reference coincidences
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
    kz, nz, kr, nr = c[z].sum(), a[z].sum(), c[r].sum(), a[r].sum()
    if nz == 0 or nr == 0:
        raise ValueError("HOM settings with zero attempts")
    if kr == 0:
        raise ValueError("no coincidences at the reference delay; visibility undefined")
    rng = rng if rng is not None else np.random.default_rng(0)
    pz = jeffreys_draws(np.array(kz), np.array(nz), n_boot, rng)
    pr = jeffreys_draws(np.array(kr), np.array(nr), n_boot, rng)
    v = 1 - (kz / nz) / (kr / nr)
    method = f"bootstrap (Jeffreys draws of both coincidence probabilities), percentile, B={n_boot}"
    return from_samples(float(v), 1 - pz / pr, cl=cl, method=method)


def dark_rates(counts: np.ndarray, duration_s: float, *, cl: float = DEFAULT_CL) -> list[Estimate]:
    """Dark-count rate per detector in s⁻¹ (Garwood interval) from counts in ``duration_s`` s."""
    return [poisson_rate(int(k), float(duration_s), cl=cl) for k in np.asarray(counts).ravel()]
