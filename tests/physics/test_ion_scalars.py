# SPDX-License-Identifier: LGPL-3.0-or-later
"""The two-ion state tests and the Z measurement read scalars on the herald path (issue 18); they
must give exactly what the array forms give: the same verdicts, the same outcome from the same
draw, the same post-measurement state bit for bit."""

import numpy as np

from sim.physics import ions


def _states(n: int, seed: int = 5):
    """Random density matrices, some diagonal, some with only a few coherences."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
        rho = a @ a.conj().T
        rho /= np.trace(rho).real
        if i % 3 == 0:
            rho = np.diag(np.diag(rho))
        elif i % 3 == 1:
            keep = rng.random((4, 4)) < 0.2
            rho = np.where(keep | keep.T | np.eye(4, dtype=bool), rho, 0)
        yield rho


def _measure_reference(rho, ion, rng):
    keep1 = ((np.arange(4) >> (1 - ion)) & 1).astype(bool)
    d = rho.diagonal().real
    p1 = float(d[keep1].sum())
    bit = int(rng.random() < min(max(p1, 0.0), 1.0))
    keep = keep1 if bit else ~keep1
    out = rho * (keep[:, None] * keep)
    tr = float(d[keep].sum())
    return bit, (out / tr if tr > 0 else out)


def test_state_tests_match_the_array_forms():
    for rho in _states(600):
        assert ions.is_diagonal(rho) == (not rho[np.triu_indices(4, 1)].any())
        assert ions.has_coherence(rho, 0) == bool(rho[0:2, 2:4].any())
        assert ions.has_coherence(rho, 1) == bool(rho[::2, 1::2].any())


def test_measure_z_matches_the_array_form_bit_for_bit():
    for n, rho in enumerate(_states(600)):
        for ion in (0, 1):
            bit, out = ions.measure_z(rho, ion, np.random.default_rng(n))
            bit_ref, out_ref = _measure_reference(rho, ion, np.random.default_rng(n))
            assert bit == bit_ref
            assert out.tobytes() == out_ref.tobytes()
