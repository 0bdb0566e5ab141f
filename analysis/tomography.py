# SPDX-License-Identifier: LGPL-3.0-or-later
"""Maximum-likelihood two-qubit state tomography from the nine Pauli settings.

Counts are given as an array ``(3, 3, 4)``: ``[basis_a, basis_b, outcome]`` with basis codes
0 = Z, 1 = X, 2 = Y (as in ``herald.basis_a``) and outcome ``2·bit_a + bit_b``. The POVM of
each setting follows the analysis-pulse convention of :mod:`analysis.bell`, so signs of
single-qubit terms are exact. The estimator is the diluted RρR iteration (Řeháček, Hradil,
Knill, Lvovsky, PRA 75, 042108 (2007)), which keeps ρ Hermitian, positive and of unit trace at
every step.

The fidelity with ψ± is linear in ρ, F = (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4, so its interval is the
direct estimate's (:func:`analysis.bell.fidelity_correlations`: split Clopper–Pearson on the XX,
YY and ZZ counts), which holds its level at any number of heralds; the point is ρ̂'s. Until
2026-12-02 the interval was a parametric bootstrap from ρ̂: with few heralds per setting ρ̂ is
near-pure and fitted to the noise of the six mixed settings, its fidelity biased low (0.78 on
average for a Werner state of F = 0.95 at 3 heralds per setting), and the bootstrap, which
resamples ρ̂'s own world, covered F = 0.95 in 3 of 40 seeded datasets at 95 % CL with 3 heralds
per setting, 27 of 40 with 10 (now 37 and 40: ``tests/analysis/test_tomography.py``). The
concurrence keeps the parametric bootstrap (multinomial resampling from ρ̂, percentile): it is
not linear in ρ. With many heralds ρ̂ is often on the boundary (an eigenvalue 0), so the bootstrap
resamples a purer state than the truth and its interval sits too high: for Werner states of
F = 0.95 (C = 0.9) at 95 % it covered 91 of 100 seeded sets at 40 heralds per setting and 85 of
100 at 200 (at least 13 of the 15 misses below). Its lower end is therefore taken no higher than
2·F_lo − 1, from the fidelity's lower end (a two-qubit state of Bell-state fidelity F has
C ≥ 2F − 1), which holds at the fidelity interval's level: now 98 and 98 of 100
(``tests/analysis/test_tomography.py``). A nearly pure state (F = 0.999) is still covered less
often than the level, from above (49 of 60 at 40 heralds per setting).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .bell import analysis_unitary, bell_state, fidelity_correlations, povm
from .estimate import DEFAULT_CL, Estimate, from_samples

__all__ = [
    "DIRECT_DRAWS",
    "TomographyResult",
    "concurrence",
    "concurrence_floor",
    "mle_density_matrix",
    "noisy_povms",
    "pauli_povms",
    "probabilities",
    "state_fidelity",
    "tomography",
]

#: draws of the direct estimate's split Clopper–Pearson interval (at least; more if ``n_boot`` is)
DIRECT_DRAWS = 2000

_SY2 = np.kron(np.array([[0, -1j], [1j, 0]]), np.array([[0, -1j], [1j, 0]]))


def pauli_povms() -> np.ndarray:
    """POVMs of the nine settings, shape ``(3, 3, 4, 4, 4)`` = [basis_a, basis_b, outcome, i, j]."""
    return np.array(
        [[povm(analysis_unitary(a), analysis_unitary(b)) for b in range(3)] for a in range(3)]
    )


def noisy_povms(readout_errors: tuple[float, float]) -> np.ndarray:
    """POVMs including symmetric readout bit-flip errors (ε_A, ε_B), for SPAM-aware MLE."""
    ea, eb = readout_errors
    ca = np.array([[1 - ea, ea], [ea, 1 - ea]])
    cb = np.array([[1 - eb, eb], [eb, 1 - eb]])
    conf = np.kron(ca, cb)  # conf[measured, true]
    return np.einsum("mt,abtij->abmij", conf, pauli_povms())


def probabilities(rho: np.ndarray, povms: np.ndarray | None = None) -> np.ndarray:
    """Outcome probabilities of ``rho`` in the nine settings, shape ``(3, 3, 4)``."""
    e = pauli_povms() if povms is None else povms
    return np.clip(np.real(np.einsum("abxij,...ji->...abx", e, rho)), 0.0, 1.0)


def _rrr(counts: np.ndarray, e: np.ndarray, max_iter: int, tol: float) -> tuple[np.ndarray, int]:
    """Batched diluted RρR. counts (B, S, 4); e (S, 4, 4, 4). Returns (B, 4, 4) and iterations.

    Each batch member stops when its largest element change falls below ``tol``.
    """
    b = counts.shape[0]
    n_tot = counts.sum(axis=(1, 2)).astype(float)
    f_all = counts / n_tot[:, None, None]
    out = np.broadcast_to(np.eye(4, dtype=complex) / 4, (b, 4, 4)).copy()
    active = np.arange(b)
    rho, f = out.copy(), f_all
    eye = np.eye(4)
    eps = 10.0
    it = 0
    for it in range(1, max_iter + 1):
        p = np.real(np.einsum("sxij,bji->bsx", e, rho))
        ratio = np.where(f > 0, f / np.maximum(p, 1e-300), 0.0)
        m = eye + eps * np.einsum("bsx,sxij->bij", ratio, e)
        new = m @ rho @ m
        new /= np.real(np.trace(new, axis1=1, axis2=2))[:, None, None]
        new = 0.5 * (new + new.conj().transpose(0, 2, 1))
        done = np.abs(new - rho).max(axis=(1, 2)) < tol
        rho = new
        if done.any():
            out[active[done]] = rho[done]
            keep = ~done
            active, rho, f = active[keep], rho[keep], f[keep]
            if active.size == 0:
                break
    if active.size:
        out[active] = rho
    return out, it


def mle_density_matrix(
    counts: np.ndarray,
    *,
    povms: np.ndarray | None = None,
    max_iter: int = 20000,
    tol: float = 1e-9,
) -> np.ndarray:
    """Maximum-likelihood ρ (4×4, Hermitian, positive semidefinite, trace 1).

    :param counts: outcome counts ``(3, 3, 4)`` (or ``(..., 3, 3, 4)`` for a batch); settings
        without counts simply do not contribute
    :param povms: POVMs ``(3, 3, 4, 4, 4)``; default :func:`pauli_povms`
    :param max_iter: iteration cap
    :param tol: stop when no element of ρ changes by more than ``tol`` in one step
    :raises ValueError: if there are no counts or they are negative
    """
    c = np.asarray(counts, dtype=float)
    if c.shape[-3:] != (3, 3, 4):
        raise ValueError(f"tomography counts need shape (3, 3, 4), got {c.shape}")
    if np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ValueError("tomography counts must be finite and >= 0")
    batch = c.reshape(-1, 9, 4)
    if np.any(batch.sum(axis=(1, 2)) == 0):
        raise ValueError("tomography needs at least one count")
    e = (pauli_povms() if povms is None else povms).reshape(9, 4, 4, 4)
    rho, _ = _rrr(batch, e, max_iter, tol)
    return rho.reshape(c.shape[:-3] + (4, 4))


def concurrence(rho: np.ndarray) -> np.ndarray | float:
    """Wootters concurrence of a two-qubit ρ (works on batches ``(..., 4, 4)``)."""
    r = np.asarray(rho, dtype=complex)
    rt = _SY2 @ r.conj() @ _SY2
    ev = np.linalg.eigvals(r @ rt)
    lam = np.sqrt(np.clip(np.real(ev), 0, None))
    lam = -np.sort(-lam, axis=-1)
    c = np.clip(lam[..., 0] - lam[..., 1] - lam[..., 2] - lam[..., 3], 0.0, 1.0)
    return float(c) if np.ndim(c) == 0 else c


def concurrence_floor(fidelity: float) -> float:
    """The least concurrence a two-qubit state of fidelity ``fidelity`` with a Bell state can
    have: ``max(0, 2F − 1)``. The fully entangled fraction F* of a two-qubit state is at most
    (1 + C)/2 (Verstraete and Verschelde, PRL 90, 097901 (2003)), and F ≤ F*."""
    return max(0.0, 2.0 * fidelity - 1.0)


def state_fidelity(rho: np.ndarray, psi: int) -> np.ndarray | float:
    """⟨ψ±|ρ|ψ±⟩ for ``psi`` = ±1 (works on batches)."""
    v = bell_state(psi)
    f = np.real(np.einsum("i,...ij,j->...", v.conj(), rho, v))
    return float(f) if np.ndim(f) == 0 else f


@dataclass(frozen=True)
class TomographyResult:
    """MLE tomography of a heralded state.

    :param rho: maximum-likelihood density matrix (basis |00⟩, |01⟩, |10⟩, |11⟩; A first)
    :param fidelity: ⟨ψ±|ρ̂|ψ±⟩ with the direct estimate's interval (split Clopper–Pearson on
        the XX, YY, ZZ counts; widened to hold the point)
    :param concurrence: Wootters concurrence with bootstrap interval
    :param fidelity_spam: fidelity of the SPAM-aware MLE (noisy POVMs) with the direct
        estimate's SPAM-corrected interval, or ``None
    :param heralds: counts used
    """

    psi: int
    rho: np.ndarray
    fidelity: Estimate
    concurrence: Estimate
    fidelity_spam: Estimate | None
    heralds: int


def tomography(
    counts: np.ndarray,
    *,
    psi: int,
    cl: float = DEFAULT_CL,
    n_boot: int = 200,
    rng: np.random.Generator | None = None,
    readout_errors: tuple[float, float] | None = None,
) -> TomographyResult:
    """MLE ρ, fidelity with ψ± and concurrence.

    The fidelity's interval is the direct estimate's (:func:`analysis.bell.
    fidelity_correlations` on the XX, YY, ZZ counts, ``max(n_boot, DIRECT_DRAWS)`` draws), widened
    to hold ρ̂'s fidelity if that falls outside. The concurrence's is a parametric bootstrap:
    each setting's counts redrawn from a multinomial with the probabilities of ρ̂ and the MLE
    repeated ``n_boot`` times (percentile), its lower end lowered to
    :func:`concurrence_floor` of the fidelity's lower end where that is lower. All nine settings
    must have counts.

    :raises ValueError: if a setting has no counts
    """
    bell_state(psi)
    rng = rng if rng is not None else np.random.default_rng(0)
    c = np.asarray(counts, dtype=np.int64)
    if c.shape != (3, 3, 4):
        raise ValueError(f"tomography counts need shape (3, 3, 4), got {c.shape}")
    empty = [(a, b) for a in range(3) for b in range(3) if c[a, b].sum() == 0]
    if empty:
        names = ", ".join("ZXY"[a] + "ZXY"[b] for a, b in empty)
        raise ValueError(f"tomography needs all nine settings; no heralds in {names}")
    boot_method = f"parametric bootstrap (multinomial from ρ̂), percentile, B={n_boot}"
    direct = fidelity_correlations(
        c[1, 1],
        c[2, 2],
        c[0, 0],
        psi=psi,
        cl=cl,
        n_boot=max(n_boot, DIRECT_DRAWS),
        rng=rng,
        readout_errors=readout_errors,
    )

    def run(
        povms: np.ndarray | None, interval: Estimate, what: str
    ) -> tuple[np.ndarray, Estimate, Estimate]:
        rho = mle_density_matrix(c, povms=povms)
        p = probabilities(rho, povms)
        p = p / p.sum(axis=-1, keepdims=True)
        n = c.sum(axis=-1)
        boot = np.empty((n_boot, 3, 3, 4))
        for a in range(3):
            for b in range(3):
                boot[:, a, b] = rng.multinomial(n[a, b], p[a, b], size=n_boot)
        rho_s = mle_density_matrix(boot, povms=povms, max_iter=3000, tol=1e-6)
        f = float(state_fidelity(rho, psi))
        fe = Estimate(
            f,
            min(interval.lo, f),
            max(interval.hi, f),
            cl,
            f"{what} (diluted RρR); interval of the direct estimate (F linear in ρ): "
            f"{interval.method}",
        )
        ce = from_samples(
            float(concurrence(rho)),
            np.asarray(concurrence(rho_s)),
            cl=cl,
            method=boot_method + "; MLE (diluted RρR); lower bound at most 2·F_lo − 1",
            clip=(0, 1),
        )
        return rho, fe, replace(ce, lo=min(ce.lo, concurrence_floor(interval.lo)))

    rho, fid, conc = run(None, direct.fidelity, "MLE ρ̂")
    fid_spam = None
    if readout_errors is not None and direct.fidelity_spam is not None:
        _, fid_spam, _ = run(
            noisy_povms(readout_errors), direct.fidelity_spam, "SPAM-aware MLE ρ̂ (noisy POVMs)"
        )
    return TomographyResult(psi, rho, fid, conc, fid_spam, int(c.sum()))
