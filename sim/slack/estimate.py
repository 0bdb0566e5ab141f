# SPDX-License-Identifier: LGPL-3.0-or-later
"""Underflow risk from slack samples: pure functions, arrays in, named records out.

The input is what :class:`sim.slack.probe.SlackProbe` records for one kernel source line over N
runs with drawn CPU costs: the minimum slack of each run (``inf`` where the line submitted
nothing in that run) and every submission's slack, plus the line's minimum in the deterministic
(mean-cost) run. An event is accepted iff its coarse timestamp exceeds the coarse counter + 12
(``sim.rtio.sed``), i.e. iff its slack is above ≈ :data:`UNDERFLOW_SLACK_MU` (96-104 mu, by
the fine phase).

Method (stated in every entry's ``method``):

- ``p_underflow``, the probability that a run underflows at this line: the runs' minima are fitted
  with a Gumbel law for minima (the minimum of many submissions whose slack has an exponential
  or lighter lower tail, as sums of the cost model's normal and exponential parts have) by the
  method of moments (scale β = s·√6/π, location μ = mean + γβ), and
  ``p = f · F(T)``, ``F(x) = 1 − exp(−exp((x − μ)/β))``, ``f`` the fraction of runs in which the
  line submitted. Its interval: the 95 % percentile interval of ``p`` over 1000 bootstrap
  resamples of the runs, joined with the Clopper-Pearson interval of the runs that did underflow
  there (so the interval holds even where the Gumbel tail fits badly).
- ``margin_mu``: the slack this line needs in the deterministic timeline so that
  ``p ≤ target`` (e.g. 10⁻⁶ per run), ``T + nominal − q``, ``q`` the Gumbel quantile of the
  minima at ``target/f`` (an extrapolation of the tail far beyond the runs observed: with 20
  runs, p = 10⁻⁶ lies 13.8 β below μ). A line whose deterministic slack exceeds its margin by Δ
  can lose Δ of the margin that sets its slack (``slack_margin``, a ``delay``, the 125 µs of
  ``break_realtime``). Minima without spread (a line whose slack no drawn cost touches) give
  ``margin_mu = T + nominal − min``.

:func:`first_underflow` predicts when a loop whose slack shrinks by a drift per iteration first
underflows (first passage of a random walk with drift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "UNDERFLOW_SLACK_MU",
    "DEFAULT_TARGET",
    "GumbelMin",
    "LineEstimate",
    "FirstUnderflow",
    "fit_gumbel_min",
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


def fit_gumbel_min(minima: np.ndarray) -> GumbelMin:
    """Method-of-moments fit of the Gumbel law for minima to finite ``minima`` (≥ 1 value)."""
    x = np.asarray(minima, dtype=float)
    beta = float(np.std(x, ddof=1)) * math.sqrt(6) / math.pi if x.size > 1 else 0.0
    return GumbelMin(float(np.mean(x)) + _EULER_GAMMA * beta, beta)


def _p_batch(samples: np.ndarray, threshold: float) -> np.ndarray:
    """``f · F(T)`` of each row of ``samples`` (runs' minima, ``inf`` = absent)."""
    finite = np.isfinite(samples)
    n = finite.sum(axis=1)
    f = n / samples.shape[1]
    x = np.where(finite, samples, 0.0)
    mean = x.sum(axis=1) / np.maximum(n, 1)
    var = ((x - mean[:, None]) ** 2 * finite).sum(axis=1) / np.maximum(n - 1, 1)
    beta = np.sqrt(var) * math.sqrt(6) / math.pi
    mu = mean + _EULER_GAMMA * beta
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        cdf = np.where(
            beta > 0,
            -np.expm1(-np.exp((threshold - mu) / np.where(beta > 0, beta, 1.0))),
            (mu < threshold).astype(float),
        )
    return np.where(n > 0, f * cdf, 0.0)


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
    "Gumbel (minima) moment fit to the runs' minimum slack, p = f·F(T), T = {} mu; 95 % "
    "bootstrap ({} resamples) joined with Clopper-Pearson of the runs that underflowed; margin "
    "= T + nominal − Gumbel quantile at target {:g}"
)


def _weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, c = values[order], np.cumsum(counts[order])
    return float(v[min(int(np.searchsorted(c, q * c[-1], side="left")), v.size - 1)])


def estimate_line(
    file: str,
    line: int,
    minima: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    underflow_runs: int,
    nominal_min: int | None,
    *,
    target: float = DEFAULT_TARGET,
    threshold: float = UNDERFLOW_SLACK_MU,
    seed: int = 0,
) -> LineEstimate:
    """The :class:`LineEstimate` of one line (module docstring for the method).

    :param minima: each run's minimum slack at the line (``inf``: no submission in that run).
    :param values, counts: every slack value submitted over the runs, with its multiplicity.
    :param underflow_runs: runs in which a submission of the line underflowed.
    :param nominal_min: the line's minimum slack in the deterministic run (None if absent).
    :param seed: seed of the bootstrap's resampling.
    """
    minima = np.asarray(minima, dtype=float)
    n_runs = minima.size
    finite = minima[np.isfinite(minima)]
    fit = fit_gumbel_min(finite)
    f = finite.size / n_runs
    p = f * fit.cdf(threshold)
    rng = np.random.default_rng(seed)
    boot = _p_batch(minima[rng.integers(0, n_runs, size=(_BOOTSTRAP, n_runs))], threshold)
    lo, hi = np.quantile(boot, [(1 - _CL) / 2, (1 + _CL) / 2])
    k = int(underflow_runs)
    a = (1 - _CL) / 2
    from scipy import stats  # here: start-up of every ionlink-sim command would pay for it

    cp_lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n_runs - k + 1))
    cp_hi = 1.0 if k == n_runs else float(stats.beta.ppf(1 - a, k + 1, n_runs - k))
    q = fit.quantile(min(target / f, 0.5))
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
        p_underflow_ci=(min(float(lo), cp_lo), max(float(hi), cp_hi)),
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
