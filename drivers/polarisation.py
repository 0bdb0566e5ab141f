# SPDX-License-Identifier: LGPL-3.0-or-later
"""Polarisation of the photonic qubit: Jones matrices of waveplates, fibre rotations and the
motorised compensator, and the host-side reconstruction used by fibre polarisation compensation.

Host-side only (numpy, scipy): the simulator's physics and the compensation experiment
(``repository/polarisation_compensation.py``) share it. Conventions: Jones vectors in the
basis (H, V); Stokes axes e1 = H/V, e2 = D/A, e3 = R/L;
a unitary ``exp(−iθ/2 n·Σ)`` with Σ = (Z, X, Y) rotates Stokes vectors by θ about n (right-handed).
A waveplate of retardance Γ with its fast axis at angle φ from H is R(−φ)·diag(1, e^{iΓ})·R(φ).

Each node's compensator is a motorised quarter-, half-, quarter-wave stack after its fibre
(``qwp1`` first in the beam), which realises any polarisation rotation; a half-wave plate ``ref``
sets the polarisation of the classical reference light injected into the fibre (0° = H,
22.5° = D). Angles are in degrees, as the rotation mounts report them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "COMPENSATOR",
    "PLATES",
    "REF_D_DEG",
    "REF_H_DEG",
    "analyser_rotations",
    "compensator",
    "jones_from_rotation_vector",
    "jones_from_so3",
    "net_rotation_from_stokes",
    "reference_input",
    "so3_from_jones",
    "solve_compensator",
    "unitary_infidelity",
    "waveplate",
]

#: The compensator's plates in beam order, then the reference light's half-wave plate.
COMPENSATOR = ("qwp1", "hwp", "qwp2")
PLATES = (*COMPENSATOR, "ref")
REF_H_DEG = 0.0
REF_D_DEG = 22.5

_Z = np.array([[1, 0], [0, -1]], dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_SIGMA = (_Z, _X, _Y)  # Stokes order e1, e2, e3


def waveplate(retardance_rad: float, angle_deg: float) -> np.ndarray:
    """Jones matrix of a waveplate (retardance in rad, fast axis at ``angle_deg`` from H)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, s], [-s, c]], dtype=complex)
    return r.T @ np.diag([1.0, np.exp(1j * retardance_rad)]) @ r


def compensator(angles: Mapping[str, float]) -> np.ndarray:
    """Jones matrix of the QWP–HWP–QWP stack at ``angles`` (deg; missing plates at 0°).

    At 0°, 0°, 0° it is the identity."""
    q1 = waveplate(math.pi / 2, angles.get("qwp1", 0.0))
    h = waveplate(math.pi, angles.get("hwp", 0.0))
    q2 = waveplate(math.pi / 2, angles.get("qwp2", 0.0))
    return q2 @ h @ q1


def reference_input(ref_deg: float) -> np.ndarray:
    """Jones vector of the reference light (H through the ``ref`` half-wave plate)."""
    return waveplate(math.pi, ref_deg) @ np.array([1.0, 0.0], dtype=complex)


def jones_from_rotation_vector(v: np.ndarray) -> np.ndarray:
    """SU(2) matrix rotating Stokes vectors by |v| (rad) about v (Stokes components)."""
    v = np.asarray(v, dtype=float)
    theta = float(np.linalg.norm(v))
    if theta == 0.0:
        return np.eye(2, dtype=complex)
    n = v / theta
    gen = n[0] * _Z + n[1] * _X + n[2] * _Y
    return math.cos(theta / 2) * np.eye(2) - 1j * math.sin(theta / 2) * gen


def so3_from_jones(u: np.ndarray) -> np.ndarray:
    """Stokes rotation R_ij = ½ Tr(Σ_i U Σ_j U†) of a Jones matrix (any global phase)."""
    return np.array(
        [[0.5 * np.real(np.trace(si @ u @ sj @ u.conj().T)) for sj in _SIGMA] for si in _SIGMA]
    )


def jones_from_so3(r: np.ndarray) -> np.ndarray:
    """An SU(2) matrix whose Stokes rotation is ``r`` (3×3 rotation; the sign is arbitrary)."""
    t = np.trace(r)
    # quaternion (w, x, y, z) of r, the numerically stable branch for each case
    if t > 0:
        s = 2.0 * math.sqrt(1.0 + t)
        q = (0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s)
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + r[i, i] - r[j, j] - r[k, k], 1e-300))
        q_vec = [0.0, 0.0, 0.0]
        q_vec[i] = 0.25 * s
        q_vec[j] = (r[j, i] + r[i, j]) / s
        q_vec[k] = (r[k, i] + r[i, k]) / s
        q = ((r[k, j] - r[j, k]) / s, *q_vec)
    w, x, y, z = q
    return w * np.eye(2) - 1j * (x * _Z + y * _X + z * _Y)


def unitary_infidelity(u: np.ndarray, v: np.ndarray) -> float:
    """1 − |Tr(U†V)/2|², 0 when U and V are the same rotation (any global phase)."""
    return float(1.0 - abs(np.trace(u.conj().T @ v) / 2) ** 2)


def analyser_rotations() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jones matrices that bring Stokes e1, e2, e3 onto e1 (H/V), in that order: placed in front
    of the analyser's H/V polarising beam splitters, they measure the three Stokes components."""
    a2 = jones_from_rotation_vector(np.array([0.0, 0.0, -math.pi / 2]))  # e2 → e1 about e3
    a3 = jones_from_rotation_vector(np.array([0.0, math.pi / 2, 0.0]))  # e3 → e1 about e2
    return np.eye(2, dtype=complex), a2, a3


def net_rotation_from_stokes(out_h: np.ndarray, out_d: np.ndarray) -> np.ndarray:
    """The Jones matrix of a path from the measured Stokes vectors of H and D light after it.

    :param out_h: measured Stokes vector (3,) of H input; :param out_d: of D input. Noise is
        projected out: the nearest rotation (polar decomposition) is returned, as SU(2).
    """
    c1 = np.asarray(out_h, dtype=float)
    c2 = np.asarray(out_d, dtype=float)
    m = np.column_stack([c1, c2, np.cross(c1, c2)])
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    if np.linalg.det(r) < 0:
        r = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    return jones_from_so3(r)


def solve_compensator(target: np.ndarray, *, tol: float = 1e-10) -> dict[str, float]:
    """Plate angles (deg, each in [0, 180)) at which the compensator equals ``target`` up to a
    global phase: a least-squares fit from a fixed grid of starts (deterministic).

    :raises ValueError: no setting reproduces ``target`` (not unitary)."""
    from scipy.optimize import least_squares

    t = np.asarray(target, dtype=complex)
    t = t / np.sqrt(np.linalg.det(t))

    def residual(x: np.ndarray) -> np.ndarray:
        w = compensator(dict(zip(COMPENSATOR, x)))
        ov = np.trace(t.conj().T @ w)
        d = w * (np.conj(ov) / max(abs(ov), 1e-300)) - t  # W with the global phase removed
        return np.concatenate([d.real.ravel(), d.imag.ravel()])

    best: tuple[float, np.ndarray] | None = None
    for s1 in (0.0, 45.0, 90.0, 135.0):
        for s2 in (0.0, 30.0, 60.0):
            for s3 in (0.0, 45.0, 90.0, 135.0):
                res = least_squares(residual, np.array([s1, s2, s3]), xtol=1e-14, ftol=1e-15)
                cost = unitary_infidelity(t, compensator(dict(zip(COMPENSATOR, res.x))))
                if best is None or cost < best[0]:
                    best = (cost, res.x)
                if best[0] < tol:
                    break
            if best is not None and best[0] < tol:
                break
        if best is not None and best[0] < tol:
            break
    assert best is not None
    if best[0] > 1e-6:
        raise ValueError(f"no compensator setting reproduces the rotation (residual {best[0]:.2g})")
    return {p: float(a % 180.0) for p, a in zip(COMPENSATOR, best[1])}
