# SPDX-License-Identifier: LGPL-3.0-or-later
"""State-dependent fluorescence readout: Poisson PMT counts, thresholds and their errors.

A bright ion (|1⟩) gives counts at ``bright_rate_hz`` (incl. background), a dark ion at
``dark_rate_hz``; Doppler heating lowers the scattering rate by 1/(1 + n̄/n_fluorescence). The
discrimination error for threshold k (count > k ⇒ bright) is the Poisson overlap
ε = ½[P(n ≤ k | λ_b) + P(n > k | λ_d)] (cf. oitg.threshold).
"""

from __future__ import annotations

import math

import numpy as np

from .lab import Motion, Readout

__all__ = [
    "fluorescence_rates",
    "optimal_threshold",
    "poisson_click_mu",
    "poisson_click_times",
    "readout_errors",
]

#: clicks from which :func:`poisson_click_mu` works on arrays (a readout's few: as floats)
_ARRAY_MIN = 256


def fluorescence_rates(readout: Readout, motion: Motion, n_bar: float) -> tuple[float, float]:
    """(bright, dark) PMT count rates in s⁻¹ at mean phonon number ``n_bar``."""
    signal = (readout.bright_rate_hz - readout.dark_rate_hz) / (1.0 + n_bar / motion.n_fluorescence)
    return readout.dark_rate_hz + signal, readout.dark_rate_hz


def readout_errors(bright_mean: float, dark_mean: float, threshold: int) -> tuple[float, float]:
    """(P(dark verdict | bright), P(bright verdict | dark)) for 'count > threshold ⇒ bright'."""
    from scipy.stats import poisson  # scipy.stats takes ~1 s to import: only where it is used

    return float(poisson.cdf(threshold, bright_mean)), float(poisson.sf(threshold, dark_mean))


def optimal_threshold(bright_mean: float, dark_mean: float) -> tuple[int, float]:
    """Threshold minimising the mean error, and that error."""
    best = (0, 1.0)
    for k in range(int(bright_mean) + 2):
        e = 0.5 * sum(readout_errors(bright_mean, dark_mean, k))
        if e < best[1]:
            best = (k, e)
    return best


def poisson_click_times(
    rng: np.random.Generator, rate_hz: float, t0_s: float, t1_s: float
) -> np.ndarray:
    """Sorted event times (s) of a homogeneous Poisson process on [t0, t1)."""
    if t1_s <= t0_s or rate_hz <= 0:
        return np.empty(0)
    n = rng.poisson(rate_hz * (t1_s - t0_s))
    times = t0_s + rng.random(n) * (t1_s - t0_s)
    times.sort()  # in place: np.sort's values without its copy
    return times


def poisson_click_mu(
    rng: np.random.Generator, rate_hz: float, t_a_mu: int, t_b_mu: int, mu_s: float
) -> list[int]:
    """Sorted click times in mu (each floored) of a homogeneous Poisson process on
    [t_a, t_b) mu: ``floor(poisson_click_times(rng, rate_hz, t_a·mu, t_b·mu) / mu)`` as ints, the
    same draws and the same values (the same float operations), without arrays for a few."""
    t0_s = t_a_mu * mu_s
    t1_s = t_b_mu * mu_s
    if t1_s <= t0_s or rate_hz <= 0:
        return []
    span = t1_s - t0_s
    n = rng.poisson(rate_hz * span)
    if not n:
        return []  # (drawing no times draws nothing from the generator)
    r = rng.random(n)
    if n >= _ARRAY_MIN:
        arr = t0_s + r * span
        arr.sort()
        return np.floor(arr / mu_s).astype(np.int64).tolist()
    # the times in order are the draws in order mapped (t0 + x·span rounds monotonically in x)
    xs = r.tolist()
    xs.sort()
    floor = math.floor
    return [floor((t0_s + x * span) / mu_s) for x in xs]
