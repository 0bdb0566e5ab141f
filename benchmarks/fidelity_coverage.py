# SPDX-License-Identifier: LGPL-3.0-or-later
"""One-sided miss rates of the correlation fidelity's interval, the study behind
:mod:`analysis.linear_binomial`.

For Werner states of fidelity F with ψ+ and ``n`` heralds in each of the XX, YY and ZZ settings,
draws the settings' counts (seeded) and counts how often the truth lies above the interval of
:func:`analysis.bell.fidelity_correlations` and how often below. Each tail should miss about
(1 − CL)/2 of the time; σ of a tail's rate is printed beside it. Whichever ``analysis`` is on
``PYTHONPATH`` is measured, so an older tree can be compared:

    PYTHONPATH=$PWD python benchmarks/fidelity_coverage.py --seeds 1000     # about 40 s
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from analysis import bell


def miss_rates(
    fidelity: float, n: int, seeds: int, cl: float, n_boot: int
) -> tuple[float, float, float]:
    """(above, below, mean width) of ``seeds`` intervals at the true ``fidelity``."""
    p = (4 * fidelity - 1) / 3  # Werner: ⟨XX⟩ = ⟨YY⟩ = −⟨ZZ⟩ = p for ψ+
    p_even = np.array([(1 + p) / 2, (1 + p) / 2, (1 - p) / 2])
    even = np.random.default_rng(12345).binomial(n, p_even, size=(seeds, 3))
    above = below = 0
    width = 0.0
    for i, row in enumerate(even):
        c = [np.array([k, n - k, 0, 0]) for k in row]
        e = bell.fidelity_correlations(
            *c, psi=1, cl=cl, n_boot=n_boot, rng=np.random.default_rng(i)
        ).fidelity
        above += fidelity > e.hi
        below += fidelity < e.lo
        width += e.hi - e.lo
    return above / seeds, below / seeds, width / seeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--cl", type=float, default=0.95)
    ap.add_argument("--n-boot", type=int, default=2000)
    a = ap.parse_args()
    tail = (1 - a.cl) / 2
    sd = 100 * math.sqrt(tail * (1 - tail) / a.seeds)
    print(f"{a.seeds} seeds, {a.cl:g} CL: each tail should miss {100 * tail:.1f} % (σ {sd:.1f} %)")
    for f in (0.8, 0.95, 0.99, 0.999, 1.0):
        for n in (10, 30, 200):
            up, down, w = miss_rates(f, n, a.seeds, a.cl, a.n_boot)
            print(
                f"F = {f:<5} n = {n:<3} per setting: truth above {100 * up:5.1f} %, "
                f"below {100 * down:5.1f} %, mean width {w:.4f}"
            )


if __name__ == "__main__":
    main()
