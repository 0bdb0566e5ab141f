# SPDX-License-Identifier: LGPL-3.0-or-later
"""``sim.physics.kraus_traces``: the Gram rows and the records' traces are bit for bit what the
``numpy.einsum`` calls they replaced give (dense random operators with signed zeros, and the
round tables of the lab presets' CPU-heralding rounds)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.physics.bsa import IDENTITY_JONES, NodeEmission, build_round
from sim.physics.kraus_traces import gram_rows, traces


def _einsum_rows(kraus: np.ndarray) -> np.ndarray:
    return np.einsum("rkj,rkm->rjm", kraus, kraus.conj()).reshape(len(kraus), 16)


def _states(g: np.random.Generator) -> list[np.ndarray]:
    states = [np.diag([1.0, 0, 0, 0]).astype(complex), np.diag([0.5, 0, 0.5, 0]).astype(complex)]
    coherent = np.diag([0.5, 0, 0.5, 0]).astype(complex)  # off-diagonals purely imaginary
    coherent[0, 2], coherent[2, 0] = 0.25j, -0.25j
    states.append(coherent)
    for _ in range(4):
        a = g.normal(size=(4, 4)) + 1j * g.normal(size=(4, 4))
        rho = a @ a.conj().T
        states.append(rho / np.trace(rho))
    return states


def _check(kraus: np.ndarray, states: list[np.ndarray]) -> None:
    g_re, g_im = gram_rows(kraus)
    want = _einsum_rows(kraus)
    assert np.ascontiguousarray(g_re.T).tobytes() == np.ascontiguousarray(want.real).tobytes()
    assert np.ascontiguousarray(g_im.T).tobytes() == np.ascontiguousarray(want.imag).tobytes()
    for rho in states:
        q = np.einsum("rj,j->r", want, rho.reshape(16)).real
        assert traces(g_re, g_im, rho).tobytes() == q.tobytes()


def test_dense_operators_with_zeros() -> None:
    """Random complex operators, a third of their elements zero, some of them −0.0 (real or
    imaginary part), against einsum."""
    g = np.random.default_rng(31)
    k = g.normal(size=(500, 4, 4)) + 1j * g.normal(size=(500, 4, 4))
    k[g.random(k.shape) < 0.33] = 0.0
    k.real[g.random(k.shape) < 0.1] = -0.0
    k.imag[g.random(k.shape) < 0.1] = -0.0
    _check(k, _states(g))


@pytest.mark.parametrize(
    "em_a, em_b, overlap",
    [
        (NodeEmission(0.9998986, 1.013e-4, 0.0351168, 0.0075), None, 0.96),
        (
            NodeEmission(0.9998986, 1.013e-4, 0.0351168, 0.0075),
            NodeEmission(0.9998986, 1.013e-4, 0.0351168, 0.0075),
            0.96,
        ),
        (
            NodeEmission(0.3, 0.01, 0.2, 0.01, (0.8, 0.6j, 0.6j, 0.8)),
            NodeEmission(0.25, 0.02, 0.3, 0.02, IDENTITY_JONES),
            0.87,
        ),
    ],
)
def test_round_tables(em_a, em_b, overlap) -> None:
    """The records of oxford2020-like rounds (one node; both, ≈ 6000 records) and of a round
    with a rotated path (complex operators), every pattern's rows, against einsum."""
    table = build_round(em_a, em_b, overlap, (0.7,) * 4, (0.0,) * 4)
    states = _states(np.random.default_rng(32))
    _check(table.kraus, states)
    for pattern in range(16):
        idx = np.nonzero(table.weights[:, pattern] > 0)[0]
        if len(idx):
            _check(table.kraus[idx], states[:3])
