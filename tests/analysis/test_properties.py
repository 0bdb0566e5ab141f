# SPDX-License-Identifier: LGPL-3.0-or-later
"""Property tests: fidelities lie in [0, 1] and are invariant under relabellings."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import bell
from analysis import tomography as tomo

PH = np.arange(6) / 6
cnt = st.lists(st.integers(0, 50), min_size=4, max_size=4).filter(lambda c: sum(c) > 0)
scan = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 30)).map(lambda t: (min(t), max(t))),
    min_size=6,
    max_size=6,
)
SWAP = [0, 2, 1, 3]  # outcome 2a+b → 2b+a
FLIP = [3, 2, 1, 0]  # both bits flipped


def _scan(s):
    return np.array([a for a, _ in s]), np.array([b for _, b in s])


@settings(max_examples=40, deadline=None)
@given(cnt, scan, st.sampled_from([1, -1]))
def test_parity_fidelity_in_unit_interval_and_relabelling_invariant(z, s, psi):
    ne, n = _scan(s)
    z = np.array(z)
    f = bell.fidelity_parity_scan(z, PH, ne, n, psi=psi, n_boot=50).fidelity
    assert 0 <= f.lo <= f.value <= f.hi <= 1
    for perm in (SWAP, FLIP):  # swapping ions or flipping both bits maps ψ± onto itself
        g = bell.fidelity_parity_scan(z[perm], PH, ne, n, psi=psi, n_boot=50).fidelity
        assert abs(g.value - f.value) < 1e-12


@settings(max_examples=40, deadline=None)
@given(cnt, cnt, cnt, st.sampled_from([1, -1]))
def test_correlation_fidelity_properties(xx, yy, zz, psi):
    xx, yy, zz = map(np.array, (xx, yy, zz))
    f = bell.fidelity_correlations(xx, yy, zz, psi=psi, n_boot=50).fidelity
    assert 0 <= f.lo <= f.value <= f.hi <= 1
    g = bell.fidelity_correlations(xx[SWAP], yy[SWAP], zz[SWAP], psi=psi, n_boot=50).fidelity
    assert abs(g.value - f.value) < 1e-12


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=36, max_size=36).filter(lambda c: sum(c) > 0))
def test_mle_physical_and_swap_invariant(c):
    c = np.array(c, dtype=float).reshape(3, 3, 4)
    r = tomo.mle_density_matrix(c, tol=1e-10)
    assert np.linalg.eigvalsh(r).min() > -1e-9 and abs(np.trace(r) - 1) < 1e-9
    swapped = c.transpose(1, 0, 2)[:, :, SWAP]  # exchange the roles of ion A and ion B
    r2 = tomo.mle_density_matrix(swapped, tol=1e-10)
    for psi in (1, -1):
        assert abs(tomo.state_fidelity(r, psi) - tomo.state_fidelity(r2, psi)) < 1e-3
    assert 0 <= tomo.concurrence(r) <= 1
