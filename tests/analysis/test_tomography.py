# SPDX-License-Identifier: LGPL-3.0-or-later
import math

import numpy as np
import pytest
from analysis_synth import werner

from analysis import tomography as tomo
from analysis.bell import bell_state


def _counts(rng, rho, n_per):
    p = tomo.probabilities(rho)
    p = p / p.sum(-1, keepdims=True)
    return np.array([[rng.multinomial(n_per, p[a, b]) for b in range(3)] for a in range(3)])


def _physical(r):
    ev = np.linalg.eigvalsh(r)
    return np.allclose(r, r.conj().T) and abs(np.trace(r) - 1) < 1e-9 and ev.min() > -1e-10


def test_mle_recovers_state_from_exact_frequencies():
    rho = werner(1, 0.8)
    p = tomo.probabilities(rho)
    r = tomo.mle_density_matrix(p * 1e6)
    assert _physical(r) and np.abs(r - rho).max() < 1e-4


def test_mle_is_physical_for_noisy_and_pure_data(rng):
    for rho in (werner(-1, 1.0), werner(1, 0.6)):
        r = tomo.mle_density_matrix(_counts(rng, rho, 30))
        assert _physical(r)


def test_concurrence_known_values():
    v = bell_state(1)
    assert tomo.concurrence(np.outer(v, v.conj())) == pytest.approx(1.0)
    prod = np.zeros((4, 4))
    prod[1, 1] = 1
    assert tomo.concurrence(prod) == pytest.approx(0.0)
    for f in (0.4, 0.7, 0.9):  # Werner: C = max(0, 2F − 1)
        assert tomo.concurrence(werner(-1, f)) == pytest.approx(max(0.0, 2 * f - 1), abs=1e-9)


def test_tomography_estimates_within_interval(rng):
    rho = werner(-1, 0.85)
    res = tomo.tomography(_counts(rng, rho, 400), psi=-1, n_boot=100, rng=rng)
    assert _physical(res.rho)
    assert res.fidelity.lo <= 0.85 <= res.fidelity.hi
    assert res.concurrence.lo <= 0.7 <= res.concurrence.hi
    assert "bootstrap" in res.fidelity.method


def test_tomography_needs_all_settings(rng):
    c = _counts(rng, werner(1, 0.9), 20)
    c[2, 1] = 0
    with pytest.raises(ValueError, match="YX"):
        tomo.tomography(c, psi=1, n_boot=20)


@pytest.mark.slow
def test_mle_fidelity_interval_coverage():
    """Parametric-bootstrap interval of the MLE fidelity covers the truth at ~nominal rate."""
    rho, truth, cl, trials = werner(1, 0.7), 0.7, 0.68, 60

    def one(seed):
        r = np.random.default_rng(500 + seed)
        e = tomo.tomography(_counts(r, rho, 40), psi=1, cl=cl, n_boot=60, rng=r).fidelity
        return e.lo <= truth <= e.hi

    cover = sum(one(i) for i in range(trials))
    sd = math.sqrt(trials * cl * (1 - cl))
    assert trials * cl - 3 * sd <= cover <= trials * cl + 3 * sd
