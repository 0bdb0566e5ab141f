# SPDX-License-Identifier: LGPL-3.0-or-later
"""Dephasing and the Z measurement multiply the state by complex masks (no cast inside numpy):
the same bits as the real multiplier (1 off the ion's coherences, the factor on them) and the
boolean projector they replaced, signed zeros and special values included, and the same draws."""

import numpy as np
import pytest

from sim.physics.ions import dephase, measure_z

SPECIAL = np.array([0.0, -0.0, 5e-324, -1e-300, 1e300, 0.25, -1.5, 1.0])


def _one(ion: int) -> np.ndarray:
    return ((np.arange(4) >> (1 - ion)) & 1).astype(bool)  # basis states with the ion in |1>


def _reference_dephase(rho: np.ndarray, ion: int, factor: float) -> np.ndarray:
    j = _one(ion).astype(int)
    off = (j[:, None] != j[None, :]).astype(float)
    return rho * ((1.0 - off) + factor * off)


def _reference_measure(rho: np.ndarray, ion: int, rng: np.random.Generator) -> tuple:
    m = _one(ion)
    d = rho.diagonal().real
    p1 = float(d[m].sum())
    bit = int(rng.random() < min(max(p1, 0.0), 1.0))
    keep = m if bit else ~m
    out = rho * (keep[:, None] * keep)  # boolean projector
    tr = float(d[keep].sum())
    return bit, (out / tr if tr > 0 else out)


def _states(seed: int, n: int):
    rng = np.random.default_rng(seed)
    for k in range(n):
        if k % 2:
            re, im = rng.choice(SPECIAL, 16), rng.choice(SPECIAL, 16)
        else:
            re, im = rng.normal(size=16), rng.normal(size=16)
            im[rng.random(16) < 0.3] = -0.0
        yield (re + 1j * im).reshape(4, 4)


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).view(np.uint64).tobytes()


@pytest.mark.parametrize("ion", [0, 1])
def test_dephasing_is_the_real_multipliers_product(ion):
    for rho in _states(1, 400):
        for f in (0.0, 0.37, 1e-300, 0.9999999):
            assert _bits(dephase(rho, ion, f)) == _bits(_reference_dephase(rho, ion, f))


@pytest.mark.parametrize("ion", [0, 1])
def test_measurement_is_the_boolean_projectors_product(ion):
    for k, rho in enumerate(_states(2, 400)):
        with np.errstate(all="ignore"):
            a, b = np.random.default_rng(k), np.random.default_rng(k)
            bit, out = measure_z(rho, ion, a)
            want_bit, want = _reference_measure(rho, ion, b)
        assert bit == want_bit and _bits(out) == _bits(want)
        assert a.random() == b.random()
