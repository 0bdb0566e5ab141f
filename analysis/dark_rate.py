# SPDX-License-Identifier: LGPL-3.0-or-later
"""The detectors' dark rates as the Dark counts calibration measured them, with their own
statistical uncertainty, for the estimates that subtract them.

A Dark counts run counts kᵢ dark counts on detector i in a gated time T (``calib.bsa.
dark_counts``, ``calib.bsa.dark_duration_s``); the rate kᵢ/T is uncertain by the Poisson noise
of kᵢ, which a short measurement makes large (k = 4 counts: ±50 %). Single photon's η, HOM's
accidental coincidences and polarisation compensation's refusal on dark counts subtract or
compare with these rates; their intervals and tests carry the uncertainty through draws of the
rates from their Jeffreys posterior Gamma(kᵢ + ½, T) (:meth:`DarkCalibration.rate_draws`) or,
for a count of dark clicks, the posterior predictive law (negative binomial,
:meth:`DarkCalibration.count_sf`). A store with the rates alone (``calib.bsa.dark_rate_hz``, from
a Dark counts run before 2026-12-02) cannot give them: the estimates then take the rates as
exact and say so (:data:`RATES_EXACT`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, from_samples

__all__ = [
    "DARK_DRAWS",
    "RATES_EXACT",
    "DarkCalibration",
    "dark_click_probability",
    "eta_estimate",
]

#: draws of the dark rates (and of what is computed from them) for an interval
DARK_DRAWS = 4000

#: what an estimate says when it has the dark rates without their counts (an old store)
RATES_EXACT = (
    "dark rates taken as exact (calib.bsa.dark_rate_hz without calib.bsa.dark_counts/"
    "dark_duration_s: a Dark counts run before 2026-12-02; run it again to propagate them)"
)


@dataclass(frozen=True)
class DarkCalibration:
    """Dark counts per detector (``counts``, whole numbers ≥ 0) in ``duration_s`` s of gated
    time each.

    :raises ValueError: on negative or fractional counts or a duration that is not > 0
    """

    counts: np.ndarray
    duration_s: float

    def __post_init__(self) -> None:
        k = np.asarray(self.counts, dtype=float).ravel()
        if k.size == 0 or np.any(k < 0) or not np.all(np.isfinite(k)) or np.any(k % 1):
            raise ValueError(f"dark counts must be whole numbers >= 0, got {self.counts!r}")
        if not (self.duration_s > 0 and math.isfinite(self.duration_s)):
            raise ValueError(f"dark-count duration must be > 0 s, got {self.duration_s}")
        object.__setattr__(self, "counts", k.astype(np.int64))
        object.__setattr__(self, "duration_s", float(self.duration_s))

    @property
    def rates(self) -> np.ndarray:
        """The measured rates k/T per detector, s⁻¹."""
        return self.counts / self.duration_s

    def rate_draws(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Draws of the rates from their Jeffreys posterior Gamma(k + ½, T), shape
        ``(size, detectors)``, s⁻¹ (non-zero also where k = 0)."""
        return rng.gamma(self.counts + 0.5, 1.0 / self.duration_s, size=(size, self.counts.size))

    def count_sf(self, total: int, gated_s: float) -> float:
        """P(N ≥ ``total``) for N the dark counts of all detectors together in ``gated_s`` s
        each, the summed rate not known but measured: N is Poisson of mean R·t given R, R has the
        posterior Gamma(K + ½, T) (K the counts summed), so N is negative binomial with K + ½
        and success probability T/(T + t). (With R taken as exact, K/T: a short Dark counts run
        that happened to count few made reference counts look like light.)"""
        from scipy.stats import nbinom

        if total <= 0:
            return 1.0
        shape = float(self.counts.sum()) + 0.5
        return float(
            nbinom.sf(int(total) - 1, shape, self.duration_s / (self.duration_s + gated_s))
        )


def dark_click_probability(
    rates: np.ndarray, before_s: float, width_s: float
) -> np.ndarray | float:
    """Dark clicks per attempt in a gate of ``width_s`` that opens ``before_s`` after the
    detectors start (their first click stored, later ones dropped) from the rates r of the
    detectors (last axis; leading axes: draws): Σ e^(−r·before)·(1 − e^(−r·width))."""
    r = np.asarray(rates, dtype=float)
    p = np.sum(np.exp(-r * before_s) * -np.expm1(-r * width_s), axis=-1)
    return float(p) if np.ndim(p) == 0 else p


def eta_estimate(
    clicks: int,
    attempts: int,
    p_dark: float,
    p_dark_draws: np.ndarray | None,
    *,
    cl: float = DEFAULT_CL,
    rng: np.random.Generator,
    size: int = DARK_DRAWS,
) -> Estimate:
    """Detection efficiency η = (k/n − p_d)/(1 − p_d/4) of ``clicks`` k (one per clicking
    detector) in ``attempts`` n, p_d the dark clicks per attempt (``p_dark``; a detector that
    clicked dark stores no photon: the photons' share is η·(1 − p_d/4)). Interval: percentile of
    draws with the clicks per attempt from the Jeffreys posterior Gamma(k + ½, n) of a Poisson
    count (clicks of up to four detectors an attempt, each rare) and p_d from ``p_dark_draws``
    (the dark rates' draws through :func:`dark_click_probability`; ``None``: p_d exact),
    clipped to [0, 1].

    :raises ValueError: if ``attempts`` ≤ 0 or ``clicks`` < 0
    """
    if attempts <= 0 or clicks < 0:
        raise ValueError(f"eta needs attempts > 0 and clicks >= 0, got {clicks} in {attempts}")
    q = rng.gamma(clicks + 0.5, 1.0 / attempts, size=size)
    pd = np.full(size, p_dark) if p_dark_draws is None else np.asarray(p_dark_draws, float)[:size]
    if pd.size != size:
        raise ValueError(f"eta needs {size} draws of the dark clicks per attempt, got {pd.size}")
    value = max(0.0, (clicks / attempts - p_dark) / (1 - p_dark / 4))
    how = "Jeffreys (Poisson) draws of clicks per attempt" + (
        f", dark clicks per attempt from the dark counts' Poisson law, B={size}"
        if p_dark_draws is not None
        else f", B={size}; dark clicks per attempt taken as exact"
    )
    return from_samples(value, (q - pd) / (1 - pd / 4), cl=cl, method=how, clip=(0.0, 1.0))
