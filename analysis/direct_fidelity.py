# SPDX-License-Identifier: LGPL-3.0-or-later
"""Direct fidelity estimation of a two-qubit Clifford gate (Flammia and Liu, PRL 106, 230501
(2011); da Silva, Landon-Cardinal and Poulin, PRL 107, 210404 (2011)), with every Pauli measured
instead of sampled.

The process fidelity to a Clifford U is F_pro = (1/16) Σ_P λ_P with λ_P = Tr(U P U† Φ(P))/4 over
the 16 two-qubit Paulis (λ_I = 1 for a trace-preserving Φ). Writing each factor of P as the
difference of its eigenstates (an identity factor as |0⟩⟨0| + |1⟩⟨1|), λ_P is the mean over the
four product inputs of c_A c_B ⟨U P U†⟩ (c = the input's eigenvalue, 1 for an identity factor),
and U P U† = ±Q is a product of Paulis read in one local basis. Unbiased for any channel,
including the preparation and readout errors the data carry. Its spread: each shot gives ±1, so
λ_P's variance is (1/16) Σ_inputs 4 q (1 − q)/n over its four inputs with n shots each, q the
probability of −1 estimated as (k + ½)/(n + 1) from the k shots that gave −1 (the smoothing keeps
a spread where all shots agree); σ(F_pro)² = Σ_P var(λ_P)/256. The interval is F ± z σ
(normal), clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, z_of_cl
from .process import _PAULI2, average_gate_fidelity

__all__ = ["DirectFidelity", "direct_fidelity"]

_TOL = 1e-6


@dataclass(frozen=True)
class DirectFidelity:
    """Process fidelity from direct fidelity estimation: the estimate, its standard error, the
    average gate fidelity, and each Pauli's λ_P (16, λ_I = 1)."""

    process_fidelity: Estimate
    sigma: float
    average_gate_fidelity: Estimate
    pauli: np.ndarray
    shots: int


def _image(u: np.ndarray, p: int) -> tuple[float, int]:
    m = u @ _PAULI2[p] @ u.conj().T
    for q, r in enumerate(_PAULI2):
        c = float(np.real(np.trace(r @ m))) / 4
        if abs(abs(c) - 1) < _TOL:
            return c, q
    raise ValueError(f"direct fidelity estimation needs a Clifford target (Pauli {p})")


def _component(v: np.ndarray, factor: int) -> float:
    """A Bloch vector's (or axis's) component along Pauli factor 1..3, which must be ±1."""
    c = float(v[factor - 1])
    if abs(abs(c) - 1) > _TOL:
        raise ValueError(f"setting is not along Pauli axis {factor} (Bloch {list(v)})")
    return c


def direct_fidelity(
    prep_bloch: np.ndarray,
    basis_axes: np.ndarray,
    settings: np.ndarray,
    pauli: np.ndarray,
    setting_of_shot: np.ndarray,
    bit_a: np.ndarray,
    bit_b: np.ndarray,
    target: np.ndarray,
    *,
    cl: float = DEFAULT_CL,
) -> DirectFidelity:
    """F_pro of the shots against the Clifford ``target`` (4×4). ``settings`` rows are
    (prep_a, prep_b, basis_a, basis_b) (indices into ``prep_bloch`` and ``basis_axes``),
    ``pauli`` the Pauli 4·a + b (0 = I, 1 = X, 2 = Y, 3 = Z, qubit A first) each setting
    estimates.

    :raises ValueError: no shots, a Pauli without all four eigenstate inputs, or a setting whose
        input or basis does not belong to its Pauli.
    """
    settings = np.asarray(settings, dtype=int)
    pauli = np.asarray(pauli, dtype=int)
    s = np.asarray(setting_of_shot, dtype=int)
    if s.size == 0:
        raise ValueError("direct fidelity estimation: no shots")
    n = np.bincount(s, minlength=len(settings)).astype(float)
    sign_a = 1 - 2 * np.asarray(bit_a, dtype=int)
    sign_b = 1 - 2 * np.asarray(bit_b, dtype=int)
    lam = np.zeros(16)
    lam[0] = 1.0
    var = np.zeros(16)
    for p in range(1, 16):
        rows = np.flatnonzero(pauli == p)
        sgn, q = _image(target, p)
        inputs = set()
        means: list[float] = []
        variances: list[float] = []
        for r in rows:
            pa, pb, ba, bb = settings[r]
            c: float = sgn
            for factor, prep in ((p >> 2, pa), (p & 3, pb)):
                if factor:
                    c *= _component(prep_bloch[prep], factor)
                else:
                    _component(prep_bloch[prep], 3)  # |0⟩ or |1⟩ for an identity factor
            out = np.ones(int(n[r]))
            shots = s == r
            if q >> 2:
                out = out * _component(basis_axes[ba], q >> 2) * sign_a[shots]
            if q & 3:
                out = out * _component(basis_axes[bb], q & 3) * sign_b[shots]
            if out.size == 0:
                continue
            inputs.add((tuple(np.round(prep_bloch[pa], 6)), tuple(np.round(prep_bloch[pb], 6))))
            means.append(c * out.mean())
            m = out.size
            # smoothed P(−1): an input whose shots all agree keeps a spread
            q_neg = (np.count_nonzero(out < 0) + 0.5) / (m + 1)
            variances.append(4 * q_neg * (1 - q_neg) / m)
        if len(inputs) < 4:
            raise ValueError(
                f"direct fidelity estimation: Pauli {p} needs shots at its 4 eigenstate "
                f"inputs, got {len(inputs)}"
            )
        # the four inputs weigh equally, however many shots each got
        lam[p] = np.mean(means)
        var[p] = np.sum(variances) / len(means) ** 2
    f = float(lam.sum() / 16)
    sigma = float(np.sqrt(var.sum()) / 16)
    z = z_of_cl(cl)
    method = "direct fidelity estimation, normal interval from the shots' variance"
    lo, hi = max(f - z * sigma, 0.0), min(f + z * sigma, 1.0)
    fp = Estimate(f, lo, hi, cl, method)
    fa = Estimate(
        float(average_gate_fidelity(f)),
        float(average_gate_fidelity(lo)),
        float(average_gate_fidelity(hi)),
        cl,
        method,
    )
    return DirectFidelity(fp, sigma, fa, lam, int(s.size))
