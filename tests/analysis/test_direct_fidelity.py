# SPDX-License-Identifier: LGPL-3.0-or-later
"""Direct fidelity estimation of a two-qubit gate (analysis.direct_fidelity) on shots drawn from
known channels, with the remote gate's settings (drivers.gate_settings)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.direct_fidelity import direct_fidelity
from analysis.process import CNOT, CZ, _bloch_state, choi_of_unitary, process_fidelity
from drivers.gate_settings import basis_axes, gate_settings, prep_bloch


def _channel_choi(kraus: list[np.ndarray]) -> np.ndarray:
    return sum(choi_of_unitary(k) for k in kraus)  # Σ_i |i⟩⟨j| ⊗ K|i⟩⟨j|K†


def _shots(kraus, mode, n, rng):
    """``n`` shots per direct-fidelity setting of ``mode`` through the channel ``kraus``."""
    s = gate_settings(mode, "direct_fidelity")
    table = np.array([s[k] for k in ("prep_a", "prep_b", "basis_a", "basis_b")]).T
    pb, ax = prep_bloch(), basis_axes()
    setting, bit_a, bit_b = [], [], []
    for i, (pa, pbb, ba, bb) in enumerate(table):
        rho = np.kron(_bloch_state(pb[pa]), _bloch_state(pb[pbb]))
        out = sum(k @ rho @ k.conj().T for k in kraus)
        probs = []
        for x in range(4):
            sa, sb = 1 - 2 * (x >> 1), 1 - 2 * (x & 1)
            proj = np.kron(_bloch_state(sa * ax[ba]), _bloch_state(sb * ax[bb]))
            probs.append(max(float(np.real(np.trace(proj @ out))), 0.0))
        xs = rng.choice(4, size=n, p=np.array(probs) / sum(probs))
        setting += [i] * n
        bit_a += list(xs >> 1)
        bit_b += list(xs & 1)
    return table, np.array(s["pauli"]), np.array(setting), np.array(bit_a), np.array(bit_b)


@pytest.mark.parametrize("mode, target", [("cz", CZ), ("cnot", CNOT)])
def test_ideal_gate_has_fidelity_one(mode, target):
    rng = np.random.default_rng(1)
    table, pauli, s, a, b = _shots([target], mode, 3, rng)
    d = direct_fidelity(prep_bloch(), basis_axes(), table, pauli, s, a, b, target)
    assert d.process_fidelity.value == pytest.approx(1.0)
    assert np.allclose(d.pauli, 1.0)
    assert 0 < d.sigma < 0.05  # the smoothing keeps a spread where every shot agrees
    assert d.average_gate_fidelity.value == pytest.approx(1.0)


def test_unbiased_for_a_channel_that_is_not_pauli():
    """CZ, then amplitude damping (γ = 0.3) of qubit A and an over-rotation (0.4 rad about X)
    of qubit B: not a Pauli channel, not unital. The estimate agrees with the exact F_pro within
    3σ (σ the estimator's own, 200 shots per setting, 12000 shots), and σ matches the spread of
    repeated estimates within 30 %."""
    g = 0.3
    damp = [np.diag([1, np.sqrt(1 - g)]), np.array([[0, np.sqrt(g)], [0, 0]])]
    rot = np.cos(0.2) * np.eye(2) - 1j * np.sin(0.2) * np.array([[0, 1], [1, 0]])
    kraus = [np.kron(k, rot) @ CZ for k in damp]
    exact = float(process_fidelity(_channel_choi(kraus), CZ))
    assert 0.6 < exact < 0.9
    rng = np.random.default_rng(2)
    values, sigmas = [], []
    for _ in range(8):
        table, pauli, s, a, b = _shots(kraus, "cz", 200, rng)
        d = direct_fidelity(prep_bloch(), basis_axes(), table, pauli, s, a, b, CZ)
        values.append(d.process_fidelity.value)
        sigmas.append(d.sigma)
        assert abs(d.process_fidelity.value - exact) < 3 * d.sigma
    assert np.std(values, ddof=1) == pytest.approx(np.mean(sigmas), rel=0.3)
    # the 8 estimates' mean is 1/√8 as uncertain
    assert abs(np.mean(values) - exact) < 3 * np.mean(sigmas) / np.sqrt(8)


def test_missing_or_wrong_settings_are_refused():
    rng = np.random.default_rng(3)
    table, pauli, s, a, b = _shots([CZ], "cz", 2, rng)
    keep = s != 0  # setting 0: one of the four eigenstate inputs of Pauli IX
    with pytest.raises(ValueError, match="needs shots at its 4 eigenstate inputs"):
        direct_fidelity(prep_bloch(), basis_axes(), table, pauli, s[keep], a[keep], b[keep], CZ)
    wrong = table.copy()
    wrong[:, 3] = 0  # every qubit B read in Z: not the basis of the Paulis' images
    with pytest.raises(ValueError, match="not along Pauli axis"):
        direct_fidelity(prep_bloch(), basis_axes(), wrong, pauli, s, a, b, CZ)
    with pytest.raises(ValueError, match="no shots"):
        direct_fidelity(prep_bloch(), basis_axes(), table, pauli, s[:0], a[:0], b[:0], CZ)
