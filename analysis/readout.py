# SPDX-License-Identifier: LGPL-3.0-or-later
"""Readout discrimination: threshold optimisation from bright/dark count histograms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, clopper_pearson, jeffreys_draws
from .linear_binomial import SPLIT_CP, linear_binomial_draws, tail_interval

__all__ = ["ThresholdResult", "optimise_threshold"]


@dataclass(frozen=True)
class ThresholdResult:
    """Optimal threshold (count > threshold ⇒ bright) and discrimination errors.

    :param error: mean error ½(ε_bright + ε_dark)
    :param error_bright: P(count <= threshold | bright), Clopper–Pearson
    :param error_dark: P(count > threshold | dark), Clopper–Pearson
    :param error_sd: standard deviation of the mean error's bootstrap draws (its standard
        error, non-zero also when no shot was misread): what a SPAM correction propagates
    """

    threshold: int
    error: Estimate
    error_bright: Estimate
    error_dark: Estimate
    error_sd: float = 0.0


def optimise_threshold(
    bright_counts: np.ndarray,
    dark_counts: np.ndarray,
    *,
    cl: float = DEFAULT_CL,
    n_boot: int = 4000,
    rng: np.random.Generator | None = None,
) -> ThresholdResult:
    """Threshold minimising the mean discrimination error of PMT counts per shot.

    The error at the chosen threshold is slightly optimistic because the threshold was
    chosen on the same data; with thousands of shots the bias is far below the interval.
    The mean error's interval: split Clopper–Pearson draws of the two error rates
    (:mod:`analysis.linear_binomial`; a percentile of Jeffreys draws sat high by the two priors'
    extra half-count and its lower bound missed a small true error several times too often).
    ``error_sd`` stays the standard deviation of the Jeffreys draws (a standard error).

    :param bright_counts: counts per shot with the ion prepared bright (|1⟩)
    :param dark_counts: counts per shot prepared dark (|0⟩)
    :raises ValueError: on empty input, negative counts or NaN
    """
    b = np.asarray(bright_counts)
    d = np.asarray(dark_counts)
    for name, a in (("bright", b), ("dark", d)):
        if a.size == 0:
            raise ValueError(f"no {name} shots")
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{name} counts must be finite and >= 0")
    b = b.astype(np.int64).ravel()
    d = d.astype(np.int64).ravel()
    top = int(max(b.max(), d.max())) + 1
    cb = np.cumsum(np.bincount(b, minlength=top + 1))  # cb[t] = #bright <= t
    cd = np.cumsum(np.bincount(d, minlength=top + 1))
    eb = cb / b.size
    ed = 1 - cd / d.size
    err = 0.5 * (eb + ed)
    t = int(np.argmin(err))
    kb, kd = int(cb[t]), int(d.size - cd[t])
    e_b = clopper_pearson(kb, b.size, cl=cl)
    e_d = clopper_pearson(kd, d.size, cl=cl)
    rng = rng if rng is not None else np.random.default_rng(0)
    s = 0.5 * (
        jeffreys_draws(np.array(kb), np.array(b.size), n_boot, rng)
        + jeffreys_draws(np.array(kd), np.array(d.size), n_boot, rng)
    )
    ends = linear_binomial_draws(
        np.array([kb, kd]), np.array([b.size, d.size]), np.array([0.5, 0.5]), n_boot, rng
    )
    method = f"{SPLIT_CP} (both error rates), B={n_boot}"
    return ThresholdResult(
        t,
        tail_interval(float(err[t]), ends, cl=cl, method=method, clip=(0.0, 0.5)),
        e_b,
        e_d,
        float(np.std(s)),
    )
