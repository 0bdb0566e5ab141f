# SPDX-License-Identifier: LGPL-3.0-or-later
"""Point estimates with confidence intervals.

Every estimator in :mod:`analysis` returns an :class:`Estimate`: the value, the interval
``[lo, hi]``, its nominal confidence level ``cl`` and a ``method`` string that names the
interval construction. Boundaries are explicit: ``n = 0`` raises :class:`ValueError`, and
no interval is ever reported with zero width because a covariance was undefined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from .gamma_quantile import gamma_quantile

__all__ = [
    "DEFAULT_CL",
    "Estimate",
    "binomial",
    "clopper_pearson",
    "from_samples",
    "jeffreys_draws",
    "poisson_rate",
    "wilson",
]

#: Default confidence level of all intervals (two-sided).
DEFAULT_CL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A value with a two-sided confidence interval.

    :param value: point estimate (``nan`` when the quantity is not identifiable)
    :param lo: lower bound of the interval
    :param hi: upper bound of the interval
    :param cl: nominal two-sided confidence level of ``[lo, hi]``, e.g. 0.95
    :param method: how the interval was built (e.g. ``"Clopper-Pearson"``)
    """

    value: float
    lo: float
    hi: float
    cl: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``value``, ``ci_low``, ``ci_high``, ``cl``, ``method``.

        NaN values become ``None``.
        """
        return {
            "value": _json_float(self.value),
            "ci_low": _json_float(self.lo),
            "ci_high": _json_float(self.hi),
            "cl": self.cl,
            "method": self.method,
        }

    def scaled(self, factor: float) -> Estimate:
        """The same estimate multiplied by a positive ``factor`` (unit conversion)."""
        if not factor > 0:
            raise ValueError(f"scale factor must be positive, got {factor}")
        return Estimate(
            self.value * factor, self.lo * factor, self.hi * factor, self.cl, self.method
        )

    def __str__(self) -> str:
        return f"{self.value:.5g} [{self.lo:.5g}, {self.hi:.5g}] ({self.cl:.3g} CL, {self.method})"


def _json_float(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _check_cl(cl: float) -> float:
    if not 0.0 < cl < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {cl}")
    return 1.0 - cl


def _check_kn(k: int, n: int) -> tuple[int, int]:
    if n <= 0:
        raise ValueError(f"binomial interval needs n > 0, got k={k}, n={n}")
    if not 0 <= k <= n:
        raise ValueError(f"binomial interval needs 0 <= k <= n, got k={k}, n={n}")
    return int(k), int(n)


def clopper_pearson(k: int, n: int, *, cl: float = DEFAULT_CL) -> Estimate:
    """Proportion ``k/n`` with the exact Clopper–Pearson interval.

    Coverage is at least ``cl`` for every true proportion. At ``k = 0`` the lower
    bound is 0, at ``k = n`` the upper bound is 1.

    :raises ValueError: if ``n <= 0`` or ``k`` is outside ``[0, n]``
    """
    from scipy import special  # here: a heralding run's live figures must not pay ~0.25 s for it

    alpha = _check_cl(cl)
    k, n = _check_kn(k, n)
    lo = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, alpha / 2))  # = stats.beta.ppf
    hi = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1 - alpha / 2))
    return Estimate(k / n, lo, hi, cl, "Clopper-Pearson")


def z_of_cl(cl: float) -> float:
    """The normal quantile of a two-sided interval at confidence ``cl`` (1.96 at 0.95)."""
    p = 1 - _check_cl(cl) / 2
    return NormalDist().inv_cdf(p) if p < 1.0 else math.inf  # = scipy.special.ndtri (~1 ulp)


def wilson(k: int, n: int, *, cl: float = DEFAULT_CL) -> Estimate:
    """Proportion ``k/n`` with the Wilson score interval (coverage close to ``cl`` on average).

    :raises ValueError: if ``n <= 0`` or ``k`` is outside ``[0, n]``
    """
    z = z_of_cl(cl)
    k, n = _check_kn(k, n)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), cl, "Wilson")


def binomial(
    k: int, n: int, *, cl: float = DEFAULT_CL, method: str = "clopper-pearson"
) -> Estimate:
    """Proportion with the interval ``method`` = ``"clopper-pearson"`` or ``"wilson"``."""
    if method == "clopper-pearson":
        return clopper_pearson(k, n, cl=cl)
    if method == "wilson":
        return wilson(k, n, cl=cl)
    raise ValueError(f"unknown binomial interval method {method!r}")


def poisson_rate(k: int, exposure: float, *, cl: float = DEFAULT_CL) -> Estimate:
    """Rate ``k/exposure`` with the exact (Garwood) Poisson interval.

    :param k: number of events
    :param exposure: observation time in s (the rate is then in s⁻¹)
    :raises ValueError: if ``exposure <= 0`` or ``k < 0``
    """
    alpha = _check_cl(cl)
    if not exposure > 0 or not math.isfinite(exposure):
        raise ValueError(f"rate needs a positive finite exposure, got {exposure}")
    if not (k >= 0 and float(k).is_integer()):
        raise ValueError(f"event count must be a whole number >= 0, got {k}")
    k = int(k)
    # chi2.ppf(., 2k) / 2 = gammaincinv(k, .), from analysis.gamma_quantile (no scipy: the live
    # dashboard's herald rate takes this interval a few times a second)
    lo = 0.0 if k == 0 else gamma_quantile(k, alpha / 2)
    hi = gamma_quantile(k + 1, 1 - alpha / 2)
    return Estimate(k / exposure, lo / exposure, hi / exposure, cl, "Garwood (exact Poisson)")


def from_samples(
    value: float,
    samples: np.ndarray,
    *,
    cl: float = DEFAULT_CL,
    method: str,
    clip: tuple[float, float] | None = None,
) -> Estimate:
    """Percentile interval from bootstrap ``samples`` around the point ``value``.

    The interval is widened if needed so that ``lo <= value <= hi``; with ``clip`` the
    value and the bounds are clipped to the physical range.

    :raises ValueError: if there are fewer than 20 finite samples
    """
    alpha = _check_cl(cl)
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size < 20:
        raise ValueError(f"bootstrap interval needs >= 20 finite samples, got {s.size}")
    lo, hi = (float(q) for q in np.quantile(s, [alpha / 2, 1 - alpha / 2]))
    lo, hi = min(lo, value), max(hi, value)
    if clip is not None:
        value = float(np.clip(value, *clip))
        lo, hi = float(np.clip(lo, *clip)), float(np.clip(hi, *clip))
    return Estimate(float(value), lo, hi, cl, method)


def jeffreys_draws(k: np.ndarray, n: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of proportions from their Jeffreys posterior ``Beta(k + ½, n − k + ½)``.

    Used by the bootstraps for proportions that enter a fidelity formula: unlike a plain
    binomial resample at ``k/n`` it keeps a non-zero spread at ``k = 0`` or ``k = n``.

    :return: array of shape ``(size,) + k.shape``
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    return rng.beta(k + 0.5, n - k + 0.5, size=(size,) + k.shape)
