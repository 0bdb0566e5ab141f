# SPDX-License-Identifier: LGPL-3.0-or-later
"""Intervals for a linear combination θ = Σ cᵢ pᵢ of independent binomial proportions.

The correlation fidelity (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4 (:func:`analysis.bell.fidelity_correlations`)
and the mean readout error ½(ε_bright + ε_dark) (:func:`analysis.readout.optimise_threshold`) are
of this form (plus a constant), each pᵢ estimated as kᵢ/nᵢ from its own setting.

Construction ("split Clopper–Pearson" draws). For one proportion the Clopper–Pearson bounds are
quantiles of two beta laws: the lower bound the α/2 quantile of Beta(k, n − k + 1), the upper
bound the 1 − α/2 quantile of Beta(k + 1, n − k); each adds one pseudo-outcome on the side the
bound moves to. For a combination the bounds here are the same quantiles of Σ cᵢ pᵢ with each pᵢ
drawn from the matching law, the one pseudo-outcome shared among the settings in proportion to
the step one outcome makes in θ, wᵢ = (|cᵢ|/nᵢ) / Σⱼ |cⱼ|/nⱼ: for the lower bound of θ a setting
with cᵢ > 0 draws from Beta(kᵢ, nᵢ − kᵢ + wᵢ) and one with cᵢ < 0 from Beta(kᵢ + wᵢ, nᵢ − kᵢ),
and the other way round for the upper bound (a shape of 0 is a point mass at 0 or 1). With one
setting this is exactly Clopper–Pearson. Near a boundary (F → 1: few "wrong" outcomes per
setting) each setting's law is close to a gamma law in its rare count; with equal steps gamma
laws add, and the sum is the exact (Garwood/Clopper–Pearson) law of the pooled rare count, as in
Fay and Feuer's gamma interval for weighted sums of Poisson counts (Stat. Med. 16, 791 (1997)),
which adds one pseudo-event of the largest step. Settings with coarse steps (few heralds) get
most of the pseudo-outcome, which keeps each tail at about α/2 or less also for unequal herald
numbers (seeded coverage in ``tests/analysis/test_bell.py``): what a one-sided reading ("is
F < 0.99 excluded?") needs. Like Clopper–Pearson it errs on the side of coverage (96-99 % at
95 % CL in those studies).

Why not a percentile interval of Jeffreys draws Beta(kᵢ + ½, nᵢ − kᵢ + ½) per setting: each
setting's prior adds half an outcome on either side, m settings m/2, where one pooled
proportion would have ½; near F = 1 the draws sit low by that extra mass and the upper bound
missed the truth 8-27 % of the time at 95 % CL for F = 0.95-0.999 with 10-200 heralds per
setting (1000 seeds; ``benchmarks/fidelity_coverage.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, from_samples

__all__ = [
    "LinearTerms",
    "SPLIT_CP",
    "TailDraws",
    "beta_draws",
    "linear_binomial_draws",
    "tail_interval",
]

#: name of the construction, for ``Estimate.method`` strings
SPLIT_CP = (
    "split Clopper-Pearson draws per setting (each end of the interval from the Beta law of "
    "its own Clopper-Pearson bound; analysis.linear_binomial)"
)


@dataclass(frozen=True)
class TailDraws:
    """Draws of one quantity for the two ends of its interval: the lower bound is the α/2
    quantile of ``lower``, the upper bound the 1 − α/2 quantile of ``upper`` (each shape
    ``(size,)``). Draws of independent quantities combine element by element (:meth:`map`,
    :meth:`combine`), e.g. ψ+ and ψ− fidelities into their herald-weighted mean."""

    lower: np.ndarray
    upper: np.ndarray

    @property
    def size(self) -> int:
        """Number of draws per end."""
        return int(self.lower.size)

    def map(self, fn: Callable[[np.ndarray], np.ndarray]) -> TailDraws:
        """The draws of ``fn(θ)`` for an increasing ``fn`` (applied to both ends)."""
        return TailDraws(np.asarray(fn(self.lower)), np.asarray(fn(self.upper)))

    @staticmethod
    def combine(weights: np.ndarray, parts: list[TailDraws]) -> TailDraws:
        """Draws of Σ wⱼ θⱼ for weights wⱼ ≥ 0 of independent quantities θⱼ."""
        return TailDraws(
            np.sum([w * p.lower for w, p in zip(weights, parts)], axis=0),
            np.sum([w * p.upper for w, p in zip(weights, parts)], axis=0),
        )


@dataclass(frozen=True)
class LinearTerms:
    """θ = offset + Σ cᵢ kᵢ/nᵢ: the counts and coefficients an estimate was built from, kept so
    that estimates of independent data combine into one linear combination (whose draws then
    share one pseudo-outcome, :meth:`combine`)."""

    k: np.ndarray
    n: np.ndarray
    coef: np.ndarray
    offset: float

    @property
    def value(self) -> float:
        """The point estimate offset + Σ cᵢ kᵢ/nᵢ."""
        return float(self.offset + self.coef @ (self.k / self.n))

    def draws(self, size: int, rng: np.random.Generator) -> TailDraws:
        """:func:`linear_binomial_draws` of θ, offset included."""
        d = linear_binomial_draws(self.k, self.n, self.coef, size, rng)
        return d.map(lambda x: self.offset + x)

    @staticmethod
    def combine(weights: np.ndarray, parts: list[LinearTerms]) -> LinearTerms:
        """Σ wⱼ θⱼ of independent combinations θⱼ, as one combination of all their settings."""
        return LinearTerms(
            np.concatenate([p.k for p in parts]),
            np.concatenate([p.n for p in parts]),
            np.concatenate([w * p.coef for w, p in zip(weights, parts)]),
            float(sum(w * p.offset for w, p in zip(weights, parts))),
        )


def beta_draws(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """Beta(a, b) draws of shape ``(size,) + a.shape``; a = 0 is a point mass at 0, b = 0 at 1."""
    d = rng.beta(np.where(a > 0, a, 1.0), np.where(b > 0, b, 1.0), size=(size,) + a.shape)
    return np.where(a <= 0, 0.0, np.where(b <= 0, 1.0, d))


def linear_binomial_draws(
    k: np.ndarray, n: np.ndarray, coef: np.ndarray, size: int, rng: np.random.Generator
) -> TailDraws:
    """Split Clopper–Pearson draws (module docstring) of θ = Σ cᵢ pᵢ from counts kᵢ of nᵢ.

    :param k: successes per setting (shape ``(m,)``)
    :param n: trials per setting, > 0
    :param coef: cᵢ; settings with cᵢ = 0 do not enter
    :raises ValueError: on shapes that differ, n ≤ 0, k outside [0, n] or all cᵢ = 0
    """
    k, n, c = (np.asarray(v, dtype=float).reshape(-1) for v in (k, n, coef))
    if not k.shape == n.shape == c.shape:
        raise ValueError(f"counts, trials and coefficients differ in shape: {k.shape}, {n.shape}")
    if np.any(n <= 0) or np.any(k < 0) or np.any(k > n):
        raise ValueError("linear combination of proportions needs n > 0 and 0 <= k <= n")
    step = np.abs(c) / n  # what one outcome moves θ by
    if not step.sum() > 0:
        raise ValueError("linear combination of proportions needs a non-zero coefficient")
    w = step / step.sum()
    f = n - k
    pos = c > 0
    lower = beta_draws(rng, np.where(pos, k, k + w), np.where(pos, f + w, f), size) @ c
    upper = beta_draws(rng, np.where(pos, k + w, k), np.where(pos, f, f + w), size) @ c
    return TailDraws(lower, upper)


def tail_interval(
    value: float,
    draws: TailDraws,
    *,
    cl: float = DEFAULT_CL,
    method: str,
    clip: tuple[float, float] | None = None,
) -> Estimate:
    """Interval from :class:`TailDraws`: α/2 quantile of ``lower``, 1 − α/2 quantile of
    ``upper``, widened to contain ``value`` and clipped as :func:`analysis.estimate.from_samples`.

    :raises ValueError: if an end has fewer than 20 finite draws
    """
    lo = from_samples(value, draws.lower, cl=cl, method=method, clip=clip)
    hi = from_samples(value, draws.upper, cl=cl, method=method, clip=clip)
    return Estimate(lo.value, lo.lo, hi.hi, cl, method)
