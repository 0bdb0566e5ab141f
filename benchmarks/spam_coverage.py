# SPDX-License-Identifier: LGPL-3.0-or-later
"""One-sided miss rates of the SPAM-corrected ψ± mean when the readout errors come from a small
calibration, the study behind :func:`analysis.spam_correction.spam_error_draws`.

For Werner states of fidelity F read with symmetric flips ε per ion, draws ψ+ and ψ− counts
(``n`` heralds in each of the XX, YY, ZZ settings) and a readout calibration of ``shots`` bright
and ``shots`` dark shots per ion (its error and standard error as the calibration reports them),
and counts how often the true F lies above and below the interval of
:func:`analysis.bell.combine_fidelities` (``spam=True``). Each tail should miss at most
(1 − CL)/2. Whichever ``analysis`` is on ``PYTHONPATH`` is measured, so an older tree can be
compared:

    PYTHONPATH=$PWD python benchmarks/spam_coverage.py --seeds 1000     # about 1 min
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from analysis import bell

#: (F, heralds per setting, true ε per ion, calibration shots per state)
CASES = [
    (0.95, 200, 0.0075, 100),
    (0.9, 200, 0.01, 100),
    (0.95, 200, 0.02, 100),
    (0.95, 20000, 0.005, 100),
    (0.9, 5000, 0.01, 100),
]


def _counts(r, fidelity, psi, n, size, eps):
    """Werner XX, YY, ZZ counts read with flips ``eps`` (only p_even matters)."""
    k = (1 - 2 * eps) ** 2 * (4 * fidelity - 1) / 3
    p_even = (1 + np.array([psi, psi, -1]) * k) / 2
    even = r.binomial(n, p_even, size=(size, 3))
    return [[np.array([e, n - e, 0, 0]) for e in row] for row in even]


def _calibration(r, eps, shots):
    """Errors and standard errors as a calibration of ``shots`` per state reports them."""
    k = r.binomial(2 * shots, eps, size=2)
    p = (k + 0.5) / (2 * shots + 1)
    return tuple(map(float, k / (2 * shots))), tuple(map(float, np.sqrt(p * (1 - p) / (2 * shots))))


def miss_rates(
    fidelity: float, n: int, eps: float, shots: int, seeds: int, cl: float, n_boot: int
) -> tuple[float, float]:
    """(above, below): how often the truth lies above / below the ψ± mean's interval."""
    r = np.random.default_rng(2026)
    plus, minus = (_counts(r, fidelity, s, n, seeds, eps) for s in (1, -1))
    above = below = 0
    for i in range(seeds):
        errs, sigmas = _calibration(r, eps, shots)
        kw = dict(cl=cl, n_boot=n_boot, rng=np.random.default_rng(i), readout_errors=errs)
        parts = [
            bell.fidelity_correlations(*c[i], psi=s, readout_sigmas=sigmas, **kw)
            for s, c in ((1, plus), (-1, minus))
        ]
        e = bell.combine_fidelities(parts, spam=True, rng=np.random.default_rng(10**6 + i))
        above += fidelity > e.hi
        below += fidelity < e.lo
    return above / seeds, below / seeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=400)
    ap.add_argument("--cl", type=float, default=0.95)
    ap.add_argument("--n-boot", type=int, default=1000)
    a = ap.parse_args()
    tail = (1 - a.cl) / 2
    sd = 100 * math.sqrt(tail * (1 - tail) / a.seeds)
    print(
        f"{a.seeds} seeds, {a.cl:g} CL: each tail should miss <= {100 * tail:.1f} % (σ {sd:.1f} %)"
    )
    for f, n, eps, shots in CASES:
        up, down = miss_rates(f, n, eps, shots, a.seeds, a.cl, a.n_boot)
        print(
            f"F = {f:<4} n = {n:<5} per setting, ε = {eps:<6} from 2 x {shots} shots: "
            f"truth above {100 * up:4.1f} %, below {100 * down:4.1f} %"
        )


if __name__ == "__main__":
    main()
