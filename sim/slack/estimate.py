# SPDX-License-Identifier: LGPL-3.0-or-later
"""Underflow risk from slack samples: pure functions, arrays in, named records out.

The input is what :class:`sim.slack.probe.SlackProbe` records for one kernel source line over N
runs with drawn CPU costs: the minimum slack of each run (``inf`` where the line submitted
nothing in that run) and every submission's slack, plus the line's minimum in the deterministic
(mean-cost) run. An event is accepted iff its coarse timestamp exceeds the coarse counter + 12
(``sim.rtio.sed``), i.e. iff its slack is above ≈ :data:`UNDERFLOW_SLACK_MU` (96-104 mu, by
the fine phase).

Method (stated in every entry's ``method``):

- ``p_underflow``, the probability that a run underflows at this line, from the law of a run's
  minimum slack at the line (:class:`MinimumLaw`): its body is a Gumbel law for minima fitted to
  the runs' minima by the method of moments (scale β = s·√6/π, location μ = mean + γβ; the
  minimum of many submissions whose slack has an exponential or lighter lower tail); below the
  minima's lower quartile (the knee) its tail falls no faster than an exponential whose scale
  is the mean distance of the line's lowest 1 % of submissions (200 at most; at least 5) below
  the highest of them, where that is wider than β; that highest no higher
  than the first gap between submissions wider than ten times the minima's spread (above it
  lie a line's other contexts, e.g. a line whose first submission has 2.8 µs of slack and all
  others 20 µs, whose slack says nothing about the minimum). The runs' minima alone miss the
  cost profile's rare slow events (a cache miss, a DMA start waiting on the bus: of order 1 in
  50 operations, each ≈ 100-400 mu late): over a few runs the minima can sit close together
  while single slow events deep in the tail set the underflows, and a Gumbel fit of those
  minima alone put ``p`` orders of magnitude too low. The submissions' tail sees those slow
  events. ``p = f · F(T)``, ``f``
  the fraction of runs in which the line submitted. Its interval: the 95 % percentile interval
  of ``p`` over 1000 bootstrap resamples of the runs, joined with the Clopper-Pearson interval of
  the runs that did underflow there (so the interval holds even where the law fits badly).
- ``margin_mu``: the slack this line needs in the deterministic timeline so that
  ``p ≤ target`` (e.g. 10⁻⁶ per run), ``T + nominal − q``, ``q`` the quantile of the
  minimum's law at ``target/f`` (an extrapolation of the tail far beyond the runs observed).
  A line whose deterministic slack exceeds its margin by Δ can lose Δ of the margin that sets
  its slack (``slack_margin``, a ``delay``, the 125 µs of ``break_realtime``). Minima without
  spread (a line whose slack no drawn cost touches) give ``margin_mu = T + nominal − min``.

:func:`first_underflow` predicts when a loop whose slack shrinks by a drift per iteration first
underflows (first passage of a random walk with drift).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "UNDERFLOW_SLACK_MU",
    "DEFAULT_TARGET",
    "GumbelMin",
    "LineEstimate",
    "MinimumLaw",
    "FirstUnderflow",
    "fit_minimum_laws",
    "lowest_submissions",
    "estimate_line",
    "first_underflow",
]

#: slack (mu) below which a submission underflows (12.5 coarse cycles of 8 mu)
UNDERFLOW_SLACK_MU = 100
#: default target probability of an underflow per run
DEFAULT_TARGET = 1e-6
_EULER_GAMMA = 0.5772156649015329
_BOOTSTRAP = 1000
_CL = 0.95


@dataclass(frozen=True)
class GumbelMin:
    """Gumbel law for minima: location ``mu`` and scale ``beta`` (mu of slack)."""

    mu: float
    beta: float

    def cdf(self, x: float) -> float:
        """P(minimum < x)."""
        if self.beta <= 0:
            return 1.0 if x > self.mu else 0.0
        return float(-np.expm1(-np.exp((x - self.mu) / self.beta)))

    def quantile(self, p: float) -> float:
        """The x with P(minimum < x) = p."""
        if self.beta <= 0:
            return self.mu
        return self.mu + self.beta * math.log(-math.log1p(-p))


#: the submissions that set the tail's scale: this fraction of them, the lowest, at most
#: _TAIL_MAX; at least _TAIL_MIN below the highest of them (else no tail)
_TAIL_FRACTION = 0.01
_TAIL_MIN = 5
_TAIL_MAX = 200
#: quantile of the runs' minima below which the tail may replace the Gumbel body
_KNEE = 0.25


@dataclass(frozen=True)
class MinimumLaw:
    """Law of a run's minimum slack (mu): the Gumbel ``body``, and below ``knee`` the larger of
    the body and an exponential tail of scale ``tail_mu`` from the body's value at the knee (0:
    the body all the way down)."""

    body: GumbelMin
    knee: float
    tail_mu: float

    def _tail(self, x: float) -> float:
        return self.body.cdf(self.knee) * math.exp(-(self.knee - x) / self.tail_mu)

    def cdf(self, x: float) -> float:
        """P(minimum < x)."""
        if x >= self.knee or self.tail_mu <= 0:
            return self.body.cdf(x)
        return max(self.body.cdf(x), self._tail(x))

    def quantile(self, p: float) -> float:
        """The x with P(minimum < x) = p."""
        at_knee = self.body.cdf(self.knee)
        if self.tail_mu <= 0 or p >= at_knee or at_knee <= 0:
            return self.body.quantile(p)
        return min(self.body.quantile(p), self.knee - self.tail_mu * math.log(at_knee / p))


def lowest_submissions(runs: Sequence[tuple[np.ndarray, np.ndarray] | None]) -> np.ndarray:
    """Each run's lowest ``_TAIL_MAX`` slack values, one per submission, ascending (``inf``:
    fewer, or no run), from its ascending ``(values, counts)``; shape (runs, ``_TAIL_MAX``)."""
    out = np.full((len(runs), _TAIL_MAX), np.inf)
    for i, r in enumerate(runs):
        if r is not None:
            low = np.repeat(r[0][:_TAIL_MAX], np.minimum(r[1][:_TAIL_MAX], _TAIL_MAX))
            out[i, : min(low.size, _TAIL_MAX)] = low[:_TAIL_MAX]
    return out


def fit_minimum_laws(lowest: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, ...]:
    """The :class:`MinimumLaw` of each row of ``lowest`` (``(rows, runs, _TAIL_MAX)``, as
    :func:`lowest_submissions` gives per row; ``totals``: the row's submissions), as arrays
    ``(f, mu, beta, knee, tail_mu)``, ``f`` the fraction of runs with a submission (module
    docstring for the method)."""
    minima = lowest[:, :, 0]
    finite = np.isfinite(minima)
    n = finite.sum(axis=1)
    x = np.where(finite, minima, 0.0)
    mean = x.sum(axis=1) / np.maximum(n, 1)
    var = ((x - mean[:, None]) ** 2 * finite).sum(axis=1) / np.maximum(n - 1, 1)
    beta = np.sqrt(var) * math.sqrt(6) / math.pi
    mu = mean + _EULER_GAMMA * beta
    with np.errstate(all="ignore"):
        if finite.all():
            knee = np.quantile(minima, _KNEE, axis=1)
        else:  # (slower, row by row)
            knee = np.nanquantile(np.where(finite, minima, np.nan), _KNEE, axis=1)
        flat = lowest.reshape(lowest.shape[0], -1)
        cols = min(_TAIL_MAX, flat.shape[1])  # (the tail needs the lowest _TAIL_MAX at most)
        pooled = np.sort(np.partition(flat, cols - 1, axis=1)[:, :cols], axis=1)
        k = np.clip((_TAIL_FRACTION * totals).astype(int), 1, cols)
        # (no higher than the first gap wider than 10 minima's spreads: above it lie the
        # submissions of a line's other contexts, which say nothing about a run's minimum)
        gaps = np.diff(pooled, axis=1) > 10 * np.maximum(np.sqrt(var), 1.0)[:, None]
        last = np.where(gaps.any(axis=1), gaps.argmax(axis=1), pooled.shape[1] - 1)
        rows = np.arange(pooled.shape[0])
        u = np.minimum(pooled[rows, k - 1], pooled[rows, last])
        below = pooled < u[:, None]
        nb = below.sum(axis=1)
        scale = np.where(below, u[:, None] - pooled, 0.0).sum(axis=1) / np.maximum(nb, 1)
    tail = np.where((nb >= _TAIL_MIN) & (scale > beta), scale, 0.0)
    return n / minima.shape[1], mu, beta, knee, tail


def _cdf_rows(laws: tuple[np.ndarray, ...], x: float) -> np.ndarray:
    """``f · P(minimum < x)`` of each law of :func:`fit_minimum_laws` (:meth:`MinimumLaw.cdf`
    on arrays)."""
    f, mu, beta, knee, tail = laws
    with np.errstate(all="ignore"):

        def body(t: np.ndarray | float) -> np.ndarray:
            safe = np.where(beta > 0, beta, 1.0)
            return np.where(beta > 0, -np.expm1(-np.exp((t - mu) / safe)), (mu < t) * 1.0)

        at_x = body(x)
        tail_x = body(knee) * np.exp(-(knee - x) / np.where(tail > 0, tail, 1.0))
        cdf = np.where((x < knee) & (tail > 0), np.maximum(at_x, tail_x), at_x)
    return np.where(f > 0, f * cdf, 0.0)


@dataclass(frozen=True)
class LineEstimate:
    """Slack and underflow risk of one kernel source line over N runs (all slack in mu)."""

    file: str
    line: int
    events: int
    runs: int
    underflow_runs: int
    nominal_min_slack_mu: int | None
    min_slack_mu: int
    q001_slack_mu: float
    median_slack_mu: float
    p_underflow: float
    p_underflow_ci: tuple[float, float]
    margin_mu: int
    method: str

    def to_dict(self) -> dict:
        """JSON-ready dict (the ``--json`` entry)."""
        return {
            "file": self.file,
            "line": self.line,
            "events": self.events,
            "runs": self.runs,
            "underflow_runs": self.underflow_runs,
            "nominal_min_slack_mu": self.nominal_min_slack_mu,
            "min_slack_mu": self.min_slack_mu,
            "q001_slack_mu": self.q001_slack_mu,
            "median_slack_mu": self.median_slack_mu,
            "p_underflow": self.p_underflow,
            "p_underflow_ci": list(self.p_underflow_ci),
            "margin_mu": self.margin_mu,
            "method": self.method,
        }


METHOD = (
    "law of a run's minimum: Gumbel (minima) moment fit, below the minima's lower quartile an "
    "exponential tail as wide as the submissions' lowest 1 % where wider; p = f·F(T), "
    "T = {} mu; 95 % "
    "bootstrap ({} resamples) joined with Clopper-Pearson of the runs that underflowed; margin "
    "= T + nominal − that law's quantile at target {:g}"
)


def _weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, c = values[order], np.cumsum(counts[order])
    return float(v[min(int(np.searchsorted(c, q * c[-1], side="left")), v.size - 1)])


def estimate_line(
    file: str,
    line: int,
    runs: Sequence[tuple[np.ndarray, np.ndarray] | None],
    underflow_runs: int,
    nominal_min: int | None,
    *,
    target: float = DEFAULT_TARGET,
    threshold: float = UNDERFLOW_SLACK_MU,
    seed: int = 0,
) -> LineEstimate:
    """The :class:`LineEstimate` of one line (module docstring for the method).

    :param runs: each run's slack values at the line (ascending, as ``numpy.unique`` gives) and
        their multiplicities; None where the line submitted nothing in that run (at least one
        run submitted).
    :param underflow_runs: runs in which a submission of the line underflowed.
    :param nominal_min: the line's minimum slack in the deterministic run (None if absent).
    :param seed: seed of the bootstrap's resampling.
    """
    n_runs = len(runs)
    present = [r for r in runs if r is not None]
    values = np.concatenate([r[0] for r in present])
    counts = np.concatenate([r[1] for r in present])
    finite = np.array([r[0][0] for r in present], dtype=float)
    lowest = lowest_submissions(runs)
    totals = np.array([0 if r is None else int(r[1].sum()) for r in runs])
    f, mu, beta, knee, tail = (
        float(a[0]) for a in fit_minimum_laws(lowest[None], totals.sum(keepdims=True))
    )
    law = MinimumLaw(GumbelMin(mu, beta), knee, tail)
    p = f * law.cdf(threshold)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_runs, size=(_BOOTSTRAP, n_runs))
    block = max(1, 4_000_000 // (n_runs * _TAIL_MAX))  # resamples at once (≈ 32 MB)
    blocks = (picks[b : b + block] for b in range(0, _BOOTSTRAP, block))
    boot = np.concatenate(
        [
            _cdf_rows(fit_minimum_laws(lowest[pk], totals[pk].sum(axis=1)), threshold)
            for pk in blocks
        ]
    )
    lo, hi = (float(v) for v in np.quantile(boot, [(1 - _CL) / 2, (1 + _CL) / 2]))
    k = int(underflow_runs)
    a = (1 - _CL) / 2
    from scipy import stats  # here: start-up of every ionlink-sim command would pay for it

    cp_lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n_runs - k + 1))
    cp_hi = 1.0 if k == n_runs else float(stats.beta.ppf(1 - a, k + 1, n_runs - k))
    q = law.quantile(min(target / f, 0.5))
    ref = nominal_min if nominal_min is not None else float(np.median(finite))
    return LineEstimate(
        file=file,
        line=line,
        events=int(np.sum(counts)),
        runs=n_runs,
        underflow_runs=k,
        nominal_min_slack_mu=nominal_min,
        min_slack_mu=int(finite.min()),
        q001_slack_mu=_weighted_quantile(values, counts, 0.001),
        median_slack_mu=_weighted_quantile(values, counts, 0.5),
        p_underflow=float(p),
        p_underflow_ci=(min(lo, cp_lo), max(hi, cp_hi)),
        margin_mu=int(math.ceil(threshold + ref - q)),
        method=METHOD.format(threshold, _BOOTSTRAP, target),
    )


@dataclass(frozen=True)
class FirstUnderflow:
    """When a drifting loop first underflows: iteration (mean and standard deviation)."""

    iteration: float
    sd: float


def first_underflow(
    slack1_mu: float, drift_mu: float, variance_mu2: float, threshold: float = UNDERFLOW_SLACK_MU
) -> FirstUnderflow:
    """The first iteration (counted from 1) of a loop whose lowest submission has ``slack1_mu``
    of slack in the first iteration and ``drift_mu`` less in each next one on average (variance
    ``variance_mu2`` per iteration) in which that slack falls below ``threshold``: the first
    passage of a random walk with drift, an inverse Gaussian law of mean 1 + a/d and variance
    a·σ²/d³ (a = slack1 − threshold, d = drift, σ² = variance)."""
    a = slack1_mu - threshold
    if drift_mu <= 0:
        raise ValueError("the slack must shrink (drift_mu > 0)")
    return FirstUnderflow(1 + a / drift_mu, math.sqrt(max(a, 0.0) * variance_mu2 / drift_mu**3))
