# SPDX-License-Identifier: LGPL-3.0-or-later
"""Settings of the remote-gate experiment (host side, no ARTIQ needed): the input states each
memory qubit is prepared in, the bases it is analysed in, and the Grover oracle's marked states.

Every pulse is R(θ, φ) = exp(−iθ/2 (cos 2πφ X + sin 2πφ Y)) on the memory qubit (θ rad, φ turns),
as :meth:`drivers.circuit_node.CircuitNode.rotate_memory` plays it. Input states (from |0⟩):
|0⟩, |1⟩ = R(π, 0), |+⟩ = R(π/2, ¼), |+i⟩ = R(π/2, ½), and for direct fidelity estimation
|−⟩ = R(π/2, ¾), |−i⟩ = R(π/2, 0). Analysis bases (then a Z readout, bit 0 = eigenvalue +1):
Z (no pulse), X = R(π/2, ¾), Y = R(π/2, 0).

Direct fidelity estimation (``analysis="direct_fidelity"``; Flammia and Liu, PRL 106, 230501
(2011), every Pauli measured rather than sampled): for each of the 15 two-qubit Paulis P ≠ I the
inputs are the four products of the eigenstates of P's factors (|0⟩ and |1⟩ for an identity
factor), each read in the bases of U P U† (U the target gate; Z for its identity factors).

The Bloch vectors of the states and the axes of the bases follow from these pulses
(:func:`prep_bloch`, :func:`basis_axes`) and are stored with the results, so the analysis needs
no convention of its own.
"""

from math import pi

import numpy as np

__all__ = [
    "BASIS_PULSES",
    "GATE_MODES",
    "PREP_PULSES",
    "basis_axes",
    "gate_settings",
    "pauli_image",
    "prep_bloch",
    "pulse_unitary",
]

GATE_MODES = ("cz", "cnot", "grover")
#: input state k of one memory: (θ rad, φ turns) from |0⟩: |0⟩, |1⟩, |+⟩, |+i⟩, |−⟩, |−i⟩
PREP_PULSES = (
    (0.0, 0.0),
    (pi, 0.0),
    (pi / 2, 0.25),
    (pi / 2, 0.5),
    (pi / 2, 0.75),
    (pi / 2, 0.0),
)
#: analysis basis k (Z, X, Y) of one memory: (θ rad, φ turns) before the Z readout
BASIS_PULSES = ((0.0, 0.0), (pi / 2, 0.75), (pi / 2, 0.0))

_PAULI = (
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.array([[1, 0], [0, -1]], dtype=complex),
)
_TARGETS = {
    "cz": np.diag([1, 1, 1, -1]).astype(complex),
    "cnot": np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex),
}
# per Pauli factor (0 = I, 1 = X, 2 = Y, 3 = Z): its two eigenstates as inputs (|0⟩, |1⟩ for I)
# and the basis that measures it (Z for I: its outcome is not used)
_EIGEN_INPUTS = ((0, 1), (2, 4), (3, 5), (0, 1))
_PAULI_BASIS = (0, 1, 2, 0)


def pauli_image(u: np.ndarray, p: int) -> tuple[int, int]:
    """U P U† = ±Q for the two-qubit Pauli ``p`` = 4·a + b (factor indices 0 = I, 1 = X, 2 = Y,
    3 = Z; qubit A first) and a Clifford ``u`` (4×4): returns (sign, q).

    :raises ValueError: ``u`` does not map P to a signed Pauli."""
    one = (np.eye(2, dtype=complex),) + _PAULI
    paulis = [np.kron(a, b) for a in one for b in one]
    image = u @ paulis[p] @ u.conj().T
    for q, m in enumerate(paulis):
        c = float(np.real(np.trace(m @ image))) / 4
        if abs(abs(c) - 1) < 1e-9:
            return (1 if c > 0 else -1), q
    raise ValueError(f"the gate does not map Pauli {p} to a Pauli (not a Clifford)")


def _direct_fidelity_rows(mode: str) -> list[tuple[int, int, int, int, int, int]]:
    rows = []
    for p in range(1, 16):
        _sign, q = pauli_image(_TARGETS[mode], p)
        for pa in _EIGEN_INPUTS[p >> 2]:
            for pb in _EIGEN_INPUTS[p & 3]:
                rows.append((pa, pb, _PAULI_BASIS[q >> 2], _PAULI_BASIS[q & 3], -1, p))
    return rows


def pulse_unitary(theta: float, phi: float) -> np.ndarray:
    """R(θ, φ) as a 2×2 unitary (θ rad, φ turns)."""
    a = 2 * pi * phi
    axis = np.cos(a) * _PAULI[0] + np.sin(a) * _PAULI[1]
    return np.cos(theta / 2) * np.eye(2) - 1j * np.sin(theta / 2) * axis


def prep_bloch() -> np.ndarray:
    """Bloch vectors (x, y, z) of the input states, shape (4, 3)."""
    out = []
    for theta, phi in PREP_PULSES:
        v = pulse_unitary(theta, phi)[:, 0]
        rho = np.outer(v, v.conj())
        out.append([float(np.real(np.trace(rho @ p))) for p in _PAULI])
    return np.array(out)


def basis_axes() -> np.ndarray:
    """Bloch axis measured by each analysis basis (bit 0 = +1 along it), shape (3, 3)."""
    out = []
    for theta, phi in BASIS_PULSES:
        u = pulse_unitary(theta, phi)
        op = u.conj().T @ _PAULI[2] @ u  # Z after the pulse = this observable before it
        out.append([float(np.real(np.trace(op @ p)) / 2) for p in _PAULI])
    return np.array(out)


def gate_settings(mode: str, analysis: str) -> dict:
    """The settings of a run: lists ``prep_a``, ``prep_b`` (input state indices), ``basis_a``,
    ``basis_b`` (analysis basis indices), ``marked`` (Grover's marked state 0..3, else -1) and
    ``pauli`` (the Pauli 4·a + b a direct-fidelity setting estimates, else -1), one entry per
    setting.

    ``analysis``: ``"process_tomography"`` (16 inputs × 9 bases), ``"truth_table"`` (the 4
    computational inputs, Z basis), ``"direct_fidelity"`` (15 Paulis × 4 eigenstate inputs).
    Grover always has the 4 marked states, Z basis."""
    if mode not in GATE_MODES:
        raise ValueError("mode must be one of {}".format(", ".join(GATE_MODES)))
    if mode == "grover":
        rows = [(0, 0, 0, 0, m, -1) for m in range(4)]
    elif analysis == "process_tomography":
        rows = [
            (pa, pb, ba, bb, -1, -1)
            for pa in range(4)
            for pb in range(4)
            for ba in range(3)
            for bb in range(3)
        ]
    elif analysis == "truth_table":
        rows = [(pa, pb, 0, 0, -1, -1) for pa in range(2) for pb in range(2)]
    elif analysis == "direct_fidelity":
        rows = _direct_fidelity_rows(mode)
    else:
        raise ValueError(
            "analysis must be 'process_tomography', 'truth_table' or 'direct_fidelity'"
        )
    keys = ("prep_a", "prep_b", "basis_a", "basis_b", "marked", "pauli")
    return {k: [r[i] for r in rows] for i, k in enumerate(keys)}
