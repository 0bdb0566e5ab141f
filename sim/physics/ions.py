# SPDX-License-Identifier: LGPL-3.0-or-later
"""Two-ion qubit state (joint 4×4 density matrix) and single-ion operations.

Basis |j_A j_B⟩, index 2·j_A + j_B; |1⟩ is bright. The frame rotates at each ion's qubit frequency
(lab ``qubit_splitting_hz``); the qubit drive's phase is referenced to t = 0 (ARTIQ absolute
phase), so a drive detuned by δ has phase φ₀ + δ·t in this frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "IonPair",
    "Thermal",
    "apply_local",
    "bell_state",
    "dephase",
    "depolarise_qubit",
    "fidelity",
    "has_coherence",
    "is_diagonal",
    "measure_z",
    "reset_qubit",
    "rotation_unitary",
]

_I2 = np.eye(2, dtype=complex)


def bell_state(sign: int) -> np.ndarray:
    """ψ± = (|01⟩ ± |10⟩)/√2 as a 4×4 density matrix (sign = +1 or −1)."""
    v = np.zeros(4, dtype=complex)
    v[1] = 1 / math.sqrt(2)
    v[2] = sign / math.sqrt(2)
    return np.outer(v, v.conj())


def fidelity(rho: np.ndarray, target: np.ndarray) -> float:
    """⟨ψ|ρ|ψ⟩ for a pure target given as a density matrix: Tr(ρ·target)."""
    return float(np.real(np.trace(rho @ target)))


def rotation_unitary(omega: float, phi: float, delta: float, t_s: float) -> np.ndarray:
    """Propagator of a drive segment in the qubit frame.

    Drive Rabi frequency ``omega`` (rad/s), phase ``phi`` (rad) at the segment start, detuning
    ``delta`` = ω_drive − ω_q (rad/s), duration ``t_s`` (s). In the drive frame
    H = [[0, e^{−iφ}Ω/2], [e^{iφ}Ω/2, δ]]; back to the qubit frame with diag(1, e^{iδt}).
    """
    h = np.array([[0.0, np.exp(-1j * phi) * omega / 2], [np.exp(1j * phi) * omega / 2, delta]])
    w, v = np.linalg.eigh(h)
    u = (v * np.exp(-1j * w * t_s)) @ v.conj().T
    return np.diag([1.0, np.exp(1j * delta * t_s)]) @ u


def apply_local(rho: np.ndarray, u: np.ndarray, ion: int) -> np.ndarray:
    """Apply a single-qubit unitary to ion 0 (A) or 1 (B)."""
    full = np.kron(u, _I2) if ion == 0 else np.kron(_I2, u)
    return full @ rho @ full.conj().T


def _coherence_mask(ion: int) -> np.ndarray:
    """1 where the matrix element is off-diagonal in ``ion``'s qubit, else 0 (complex, as the
    masks below: a complex state times a complex mask needs no cast, the same products)."""
    j = (np.arange(4) >> (1 - ion)) & 1
    return (j[:, None] != j[None, :]).astype(complex)


_MASKS = (_coherence_mask(0), _coherence_mask(1))
_KEEP = (1.0 - _MASKS[0], 1.0 - _MASKS[1])
# one block of ``ion``'s coherences (the other block is its Hermitian conjugate)
_COH_BLOCK = ((slice(0, 2), slice(2, 4)), (slice(None, None, 2), slice(1, None, 2)))
_COH_FLAT = tuple(tuple(np.arange(16).reshape(4, 4)[blk].ravel().tolist()) for blk in _COH_BLOCK)


_OFF_DIAGONAL = np.triu_indices(4, 1)
_ONE = [((np.arange(4) >> (1 - ion)) & 1).astype(bool) for ion in (0, 1)]  # ion in |1⟩
_ONE_IDX = tuple(tuple(np.flatnonzero(m).tolist()) for m in _ONE)  # basis states, ion in |1⟩
_ZERO_IDX = tuple(tuple(np.flatnonzero(~m).tolist()) for m in _ONE)  # ... in |0⟩
#: per ion and outcome (0, 1): the mask of P rho P for the diagonal projector P
_PROJECTOR = tuple(
    ((~m[:, None] * ~m).astype(complex), (m[:, None] * m).astype(complex)) for m in _ONE
)


def is_diagonal(rho: np.ndarray) -> bool:
    """Whether ``rho`` has no off-diagonal element (no coherence of either ion)."""
    if rho.shape == (4, 4):  # six scalar reads cost less than a fancy index and a reduction
        item = rho.item
        return not (item(1) or item(2) or item(3) or item(6) or item(7) or item(11))
    return not rho[_OFF_DIAGONAL].any()


def has_coherence(rho: np.ndarray, ion: int) -> bool:
    """Whether ``rho`` has any coherence between ``ion``'s qubit states."""
    if rho.shape == (4, 4):
        item = rho.item
        a, b, c, d = _COH_FLAT[ion]
        return bool(item(a) or item(b) or item(c) or item(d))
    return bool(rho[_COH_BLOCK[ion]].any())


#: ``_KEEP[ion] + factor * _MASKS[ion]`` by ``(ion, factor)``: a loop's segments repeat their
#: lengths, so :func:`dephase` meets the same factors again and again (the same array values)
_DEPHASE_FACTORS: dict[tuple[int, float], np.ndarray] = {}


def dephase(rho: np.ndarray, ion: int, factor: float) -> np.ndarray:
    """Multiply ``ion``'s coherences by ``factor`` (pure dephasing)."""
    if factor == 1.0:
        return rho
    key = (ion, factor)
    scale = _DEPHASE_FACTORS.get(key)
    if scale is None:
        if len(_DEPHASE_FACTORS) >= 1024:
            _DEPHASE_FACTORS.clear()
        scale = _DEPHASE_FACTORS[key] = _KEEP[ion] + factor * _MASKS[ion]
    return rho * scale


def _replaced(rho: np.ndarray, ion: int, state: int | None) -> np.ndarray:
    """``ion``'s qubit replaced by |state⟩⟨state| (or I/2 for ``state=None``), the other ion's
    reduced state kept: |s⟩⟨s| ⊗ Tr_A ρ or Tr_B ρ ⊗ |s⟩⟨s|."""
    fresh = np.zeros(rho.shape, dtype=complex)  # a stack of 4×4 matrices works as well
    if ion == 0:
        other = rho[..., 0:2, 0:2] + rho[..., 2:4, 2:4]
        if state is None:
            fresh[..., 0:2, 0:2] = fresh[..., 2:4, 2:4] = 0.5 * other
        else:
            fresh[..., 2 * state : 2 * state + 2, 2 * state : 2 * state + 2] = other
    else:
        other = rho[..., 0::2, 0::2] + rho[..., 1::2, 1::2]
        if state is None:
            fresh[..., 0::2, 0::2] = fresh[..., 1::2, 1::2] = 0.5 * other
        else:
            fresh[..., state::2, state::2] = other
    return fresh


def reset_qubit(rho: np.ndarray, ion: int, prob: float, state: int = 0) -> np.ndarray:
    """With probability ``prob`` replace ``ion``'s qubit by |state⟩ (optical pumping)."""
    if prob <= 0.0:
        return rho
    fresh = _replaced(rho, ion, state)
    return fresh if prob >= 1.0 else (1 - prob) * rho + prob * fresh


def depolarise_qubit(rho: np.ndarray, ion: int, prob: float) -> np.ndarray:
    """With probability ``prob`` replace ``ion``'s qubit by I/2 (scattering of resonant light)."""
    if prob <= 0.0:
        return rho
    half = _replaced(rho, ion, None)
    return half if prob >= 1.0 else (1 - prob) * rho + prob * half


def measure_z(rho: np.ndarray, ion: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """Projective Z measurement of ``ion``: (outcome, post-measurement state)."""
    d = rho.diagonal().real.tolist()
    i, j = _ONE_IDX[ion]
    p1 = d[i] + d[j]
    bit = int(rng.random() < min(max(p1, 0.0), 1.0))
    out = rho * _PROJECTOR[ion][bit]  # P rho P with the diagonal projector P
    i, j = _ONE_IDX[ion] if bit else _ZERO_IDX[ion]
    tr = d[i] + d[j]
    return bit, (out / tr if tr > 0 else out)


@dataclass
class Thermal:
    """Mean phonon number n̄ of one ion (see :class:`sim.physics.lab.Motion`)."""

    n: float
    heating_rate_per_s: float
    doppler_n: float
    cooling_time_s: float

    def heat(self, t_s: float) -> None:
        """Free evolution (no cooling) for ``t_s`` seconds."""
        self.n += self.heating_rate_per_s * max(t_s, 0.0)

    def cool(self, t_s: float) -> None:
        """Doppler cooling for ``t_s`` seconds (exponential relaxation to the Doppler limit)."""
        self.n = self.doppler_n + (self.n - self.doppler_n) * math.exp(-t_s / self.cooling_time_s)


class IonPair:
    """Joint state of the two ions plus their motional temperatures.

    :param rho: 4×4 density matrix; starts in |00⟩ (pumped).
    """

    def __init__(self, thermal: tuple[Thermal, Thermal]) -> None:
        self.rho = np.zeros((4, 4), dtype=complex)
        self.rho[0, 0] = 1.0
        self.thermal = thermal

    def population_one(self, ion: int) -> float:
        """P(ion in |1⟩)."""
        j = (np.arange(4) >> (1 - ion)) & 1
        return float(np.real(np.diag(self.rho))[j == 1].sum())
