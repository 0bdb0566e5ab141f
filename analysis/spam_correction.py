# SPDX-License-Identifier: LGPL-3.0-or-later
"""SPAM correction of a two-ion fidelity. Symmetric readout errors ε_A, ε_B scale the measured
correlations by k = (1 − 2ε_A)(1 − 2ε_B) and shift P_odd by t = ε_A + ε_B − 2ε_Aε_B
(:func:`spam_factors`); :func:`spam_correct` corrects a raw fidelity (a value or its draws). The
readout calibration's uncertainty enters as drawn errors (:func:`calibration_counts`,
:func:`spam_error_draws`), and :func:`spam_note` says in an estimate's method which errors it used.
"""

from __future__ import annotations

import math

import numpy as np

from .linear_binomial import TailDraws, beta_draws
from .scalar_search import bracketed_root

__all__ = [
    "calibration_counts",
    "spam_correct",
    "spam_error_draws",
    "spam_factors",
    "spam_note",
]


def spam_factors(readout_errors: tuple[float, float]) -> tuple[float, float]:
    """(k, t) for symmetric readout errors ε_A, ε_B: E_meas = k·E and P_odd,meas = t + k·P_odd.

    k = (1 − 2ε_A)(1 − 2ε_B), t = ε_A + ε_B − 2ε_Aε_B (exact for symmetric bit flips).
    :raises ValueError: if an error is outside [0, 0.5)
    """
    ea, eb = (float(e) for e in readout_errors)
    for e in (ea, eb):
        if not 0.0 <= e < 0.5:
            raise ValueError(f"readout error must be in [0, 0.5), got {e}")
    return (1 - 2 * ea) * (1 - 2 * eb), ea + eb - 2 * ea * eb


def spam_correct(f, readout_errors, *, populations: bool):
    """SPAM-corrected fidelity from raw fidelity ``f`` (a value, an array or :class:`TailDraws`):
    from P_odd and a parity fit F_c = ½((P_odd − t) ± B)/k = (F − t/2)/k (``populations``),
    from correlations F_c = ¼ + (F − ¼)/k, with k, t of :func:`spam_factors`. Both rise with F
    for every k > 0, so each end's draws of F stay that end's. With drawn readout errors (one
    :class:`TailDraws` per ion, :func:`spam_error_draws`) F_c is computed element by element;
    ∂F_c/∂ε_A = 2(1 − 2ε_B)(F_c − ¼)/k (likewise ε_B): both errors move F_c the same way, up
    where F_c > ¼, so the lower end takes the smaller F_c of the errors' two ends' draws and
    the upper end the larger."""

    def corr(x, errs):
        k, t = _spam_kt(errs)
        return (x - t / 2) / k if populations else 0.25 + (x - 0.25) / k

    ea, eb = readout_errors
    if not isinstance(ea, TailDraws):
        if isinstance(f, TailDraws):
            return f.map(lambda x: corr(x, readout_errors))
        return corr(f, readout_errors)
    f = f if isinstance(f, TailDraws) else TailDraws(f, f)
    low, high = (ea.lower, eb.lower), (ea.upper, eb.upper)
    return TailDraws(
        np.minimum(corr(f.lower, low), corr(f.lower, high)),
        np.maximum(corr(f.upper, low), corr(f.upper, high)),
    )


def _spam_kt(readout_errors):
    """:func:`spam_factors` for scalars or for arrays of drawn errors (element by element)."""
    ea, eb = readout_errors
    if np.ndim(ea) == 0 and np.ndim(eb) == 0:
        return spam_factors((ea, eb))
    return (1 - 2 * ea) * (1 - 2 * eb), ea + eb - 2 * ea * eb


#: drawn readout errors are kept below this (1/2 would make the correction divide by zero)
_MAX_DRAWN_ERROR = 0.45


def calibration_counts(error: float, sigma: float) -> tuple[float, float]:
    """Effective (misread shots k, shots n) of a readout calibration that reported ``error`` ε
    with standard error ``sigma`` σ: the n at which the Jeffreys law Beta(k + ½, n − k + ½),
    k = ε·n, has standard deviation σ (the readout calibration's σ is the spread of such draws:
    σ² ≈ ε(1 − ε)/n with many misreads, ≈ 1/(2n²) with none). For the mean of a bright and a
    dark error rate n is at most the shots of both (up to √2 fewer with no misread: wider).

    :raises ValueError: if ``sigma`` <= 0 or ε is outside [0, 0.5)
    """
    if not sigma > 0 or not 0.0 <= error < 0.5:
        raise ValueError(f"calibration needs sigma > 0 and error in [0, 0.5), got {error}, {sigma}")

    def log_var(log_n: float) -> float:  # decreasing in n
        n = math.exp(log_n)
        a, b = error * n + 0.5, (1 - error) * n + 0.5
        return math.log(a * b / ((n + 1) ** 2 * (n + 2))) - 2 * math.log(sigma)

    lo, hi = math.log(1e-3), math.log(1e15)
    log_n = lo if log_var(lo) <= 0 else hi if log_var(hi) >= 0 else bracketed_root(log_var, lo, hi)
    n = math.exp(log_n)
    return error * n, n


def spam_error_draws(
    readout_errors: tuple[float, float],
    readout_sigmas: tuple[float, float] | None,
    size: int,
    rng: np.random.Generator,
) -> tuple[TailDraws, TailDraws] | tuple[float, float]:
    """The readout errors a bootstrap's SPAM correction uses, sample by sample, one
    :class:`TailDraws` per ion, from the calibration's effective counts (k, n)
    (:func:`calibration_counts`) as split Clopper–Pearson draws (:mod:`analysis.linear_binomial`):
    the lower end draws ε from Beta(k, n − k + w), the upper end from Beta(k + w, n − k), the
    one pseudo-misread shared between the ions in proportion to 1/n (w_A + w_B = 1), kept below
    0.45. :func:`spam_correct` pairs each end of F with the end of ε that moves F_c outwards
    (F_c rises with both errors wherever F_c > ¼). An ion whose standard error is 0 keeps its
    error exact; without standard errors the errors themselves (exact) are returned.

    Why: a normal law with the standard error, cut at 0, fits a calibration of a few misreads
    badly (the error's law is skewed, its upper tail long): the ψ± mean's 95 % interval missed
    the truth above 3.7-7.1 % of the time (``benchmarks/spam_coverage.py``; figures in the
    README's paragraph on estimators). Jeffreys draws Beta(k + ½, n − k + ½) turned that round
    where the calibration dominates (5-6 % below: their lower end cannot reach a low enough ε
    with 3-4 misreads). The draws come from a generator spawned from ``rng``, so the other bootstrap
    draws are the same with and without them."""
    if readout_sigmas is None or not any(readout_sigmas):
        return readout_errors
    sub = rng.spawn(1)[0]
    exact = [not sd > 0 for sd in readout_sigmas]
    kn = [
        (float(e), math.inf) if x else calibration_counts(float(e), float(sd))
        for e, sd, x in zip(readout_errors, readout_sigmas, exact)
    ]
    step = np.array([0.0 if x else 1 / n for x, (_, n) in zip(exact, kn)])
    w = step / step.sum()  # the pseudo-outcome, shared as in linear_binomial

    def one(e: float, kn_i: tuple[float, float], w_i: float, x: bool) -> TailDraws:
        if x:
            return TailDraws(np.full(size, e), np.full(size, e))
        k, n = (np.array(v) for v in kn_i)
        lower = beta_draws(sub, k, n - k + w_i, size)
        upper = beta_draws(sub, k + w_i, n - k, size)
        return TailDraws(*(np.minimum(d, _MAX_DRAWN_ERROR) for d in (lower, upper)))

    ea, eb = (one(float(e), *z) for e, *z in zip(readout_errors, kn, w, exact))
    return ea, eb


def spam_note(
    readout_errors: tuple[float, float], readout_sigmas: tuple[float, float] | None = None
) -> str:
    """What a SPAM-corrected estimate's method says about the readout errors it used."""
    ea, eb = readout_errors
    if readout_sigmas is None or not any(readout_sigmas):
        return f"; SPAM-corrected with readout errors {ea:.4g}, {eb:.4g} (treated as exact)"
    sa, sb = readout_sigmas
    return (
        f"; SPAM-corrected with readout errors {ea:.4g} ± {sa:.2g}, {eb:.4g} ± {sb:.2g} "
        "(their calibration's counts propagated, split Clopper-Pearson draws)"
    )
