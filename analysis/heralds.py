# SPDX-License-Identifier: LGPL-3.0-or-later
"""Herald statistics: success probability, rates, ψ± split and attempts per herald."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .estimate import DEFAULT_CL, Estimate, binomial, poisson_rate

__all__ = [
    "PSI_OF_PATTERN",
    "AttemptsDistribution",
    "PatternSplit",
    "attempts_distribution",
    "geometric_edges",
    "herald_rate",
    "pattern_split",
    "psi_from_pattern",
    "success_probability",
]

#: Two-click patterns of the Bell-state analyser and the state they herald (docs/datasets.md).
PSI_OF_PATTERN: dict[int, int] = {0b0011: +1, 0b1100: +1, 0b1001: -1, 0b0110: -1}


def psi_from_pattern(pattern: np.ndarray) -> np.ndarray:
    """ψ sign (+1, −1, or 0 for a pattern that heralds nothing) of each click pattern."""
    lut = np.zeros(16, dtype=np.int8)
    for pat, s in PSI_OF_PATTERN.items():
        lut[pat] = s
    p = np.asarray(pattern)
    out = np.zeros(p.shape, dtype=np.int8)
    ok = (p >= 0) & (p < 16)
    out[ok] = lut[p[ok]]
    return out


def success_probability(
    heralds: int, attempts: int, *, cl: float = DEFAULT_CL, method: str = "clopper-pearson"
) -> Estimate:
    """Success probability per attempt, heralds/attempts, with a binomial interval.

    :raises ValueError: if ``attempts <= 0`` or ``heralds > attempts``
    """
    return binomial(int(heralds), int(attempts), cl=cl, method=method)


def herald_rate(heralds: int, time_s: float, *, cl: float = DEFAULT_CL) -> Estimate:
    """Herald rate in s⁻¹ over ``time_s`` seconds (lab or wall time), Garwood interval."""
    return poisson_rate(int(heralds), float(time_s), cl=cl)


def geometric_edges(p: float, *, n_bins: int = 30, max_attempts: int | None = None) -> np.ndarray:
    """Integer bin edges for attempts-per-herald, equally spaced in geometric probability.

    The last edge covers the 1 − 10⁻⁶ quantile (or ``max_attempts``); values beyond it go
    into an overflow bin handled by :func:`attempts_distribution`.
    """
    if not 0 < p <= 1:
        raise ValueError(f"success probability must be in (0, 1], got {p}")
    q = np.linspace(0, 1 - 1e-6, n_bins + 1)
    with np.errstate(divide="ignore"):
        k = 1 + np.floor(np.log1p(-q) / np.log1p(-p)) if p < 1 else np.ones_like(q)
    if max_attempts is not None:
        k = np.append(k[k < max_attempts], max_attempts)
    return np.unique(np.maximum(k, 1).astype(np.int64))


@dataclass(frozen=True)
class AttemptsDistribution:
    """Observed attempts-per-herald histogram against the geometric expectation.

    Bin i holds herald counts with ``edges[i] <= attempts < edges[i+1]``; the last entry of
    ``observed``/``expected`` is the overflow ``attempts >= edges[-1]``.

    :param p: success probability used for the expectation
    :param chi2: Pearson χ² over bins (bins pooled until the expectation is >= 5)
    :param dof: degrees of freedom (bins − 2, one for the total and one for fitted p)
    :param p_value: χ² p-value (``nan`` if fewer than 3 pooled bins)
    :param mean_attempts: observed mean attempts per herald (expected 1/p)
    """

    edges: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    p: float
    chi2: float
    dof: int
    p_value: float
    mean_attempts: float


def attempts_distribution(
    counts: np.ndarray, edges: np.ndarray, p: float, mean_attempts: float
) -> AttemptsDistribution:
    """Compare binned attempts-per-herald ``counts`` (len(edges) bins, last = overflow) with
    Geometric(p).

    :param counts: heralds per bin as produced with ``np.searchsorted(edges, a, "right") − 1``
    :param p: success probability per attempt (usually heralds/attempts)
    :param mean_attempts: observed mean, reported alongside
    """
    obs = np.asarray(counts, dtype=float)
    edges = np.asarray(edges, dtype=np.int64)
    if obs.shape != edges.shape or edges.size == 0 or edges[0] != 1:
        raise ValueError(
            "need edges starting at 1 and one count per edge (last = overflow), "
            f"got {obs.shape} vs {edges.shape}"
        )
    n = obs.sum()
    if n <= 0:
        raise ValueError("no heralds in attempts-per-herald distribution")
    surv = (1 - p) ** (edges - 1.0)  # P(attempts >= edge)
    exp = n * np.append(surv[:-1] - surv[1:], surv[-1])
    # pool adjacent bins until expectation >= 5
    po, pe, acc_o, acc_e = [], [], 0.0, 0.0
    for o, e in zip(obs, exp):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 5:
            po.append(acc_o)
            pe.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 and pe:
        po[-1] += acc_o
        pe[-1] += acc_e
    po_a, pe_a = np.array(po), np.array(pe)
    dof = len(po) - 2
    if dof >= 1:
        chi2 = float(((po_a - pe_a) ** 2 / pe_a).sum())
        pval = float(special.chdtrc(dof, chi2))  # = stats.chi2.sf
    else:
        chi2, pval, dof = float("nan"), float("nan"), max(dof, 0)
    return AttemptsDistribution(edges, obs, exp, float(p), chi2, dof, pval, float(mean_attempts))


@dataclass(frozen=True)
class PatternSplit:
    """Heralds per click pattern and per ψ sign."""

    by_pattern: dict[int, int]
    psi_plus: int
    psi_minus: int
    other: int


def pattern_split(pattern_counts: np.ndarray) -> PatternSplit:
    """Split heralds by pattern from a 16-bin ``bincount`` of ``herald.pattern``."""
    c = np.asarray(pattern_counts, dtype=np.int64)
    if c.shape != (16,):
        raise ValueError(f"pattern counts need 16 bins, got {c.shape}")
    by = {int(k): int(v) for k, v in enumerate(c) if v}
    plus = sum(int(c[k]) for k, s in PSI_OF_PATTERN.items() if s > 0)
    minus = sum(int(c[k]) for k, s in PSI_OF_PATTERN.items() if s < 0)
    return PatternSplit(by, plus, minus, int(c.sum()) - plus - minus)
