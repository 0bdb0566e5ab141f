# SPDX-License-Identifier: LGPL-3.0-or-later
"""Quantum process tomography of a two-qubit gate, its truth table and the Grover success rate.

Inputs: per shot the input state of each qubit (an index into the Bloch vectors ``prep_bloch``),
the analysis basis of each qubit (an index into ``basis_axes``: bit 0 = eigenvalue +1 along that
axis) and the two readout bits. The process is estimated as its Choi matrix
J = Σ_ij |i⟩⟨j| ⊗ Φ(|i⟩⟨j|) (input ⊗ output, qubit A first; Tr_out J = I: trace preserving, J ≥ 0:
completely positive) by maximum likelihood with the iteration of Ježek, Fiurášek and Hradil,
PRA 68, 012305 (2003): J ← (Λ^−½ ⊗ I) K J K (Λ^−½ ⊗ I), K = Σ_j n_j/p_j A_j, Λ = Tr_out(K J K),
A_j = ρ_j^T ⊗ Π_j — every step stays CPTP. Process fidelity to a unitary U: F_pro =
⟨⟨U|J|U⟩⟩/d², average gate fidelity (d F_pro + 1)/(d + 1) (d = 4); intervals from a parametric
bootstrap (multinomial counts per setting drawn from the estimate, re-estimated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, clopper_pearson, from_samples
from .linear_binomial import SPLIT_CP, LinearTerms, tail_interval

__all__ = [
    "CNOT",
    "CZ",
    "GateTomography",
    "TruthTable",
    "average_gate_fidelity",
    "choi_of_unitary",
    "gate_tomography",
    "grover_success",
    "mle_choi",
    "pauli_transfer_matrix",
    "process_fidelity",
    "setting_operators",
    "truth_table",
]

D = 4
CZ = np.diag([1.0, 1.0, 1.0, -1.0]).astype(complex)
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
_PAULI = (
    np.eye(2, dtype=complex),
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.array([[1, 0], [0, -1]], dtype=complex),
)
_PAULI2 = [np.kron(a, b) for a in _PAULI for b in _PAULI]


def _bloch_state(v: np.ndarray) -> np.ndarray:
    return 0.5 * (_PAULI[0] + v[0] * _PAULI[1] + v[1] * _PAULI[2] + v[2] * _PAULI[3])


def setting_operators(
    prep_bloch: np.ndarray,
    basis_axes: np.ndarray,
    settings: np.ndarray,
) -> np.ndarray:
    """A_{s,x} = ρ_s^T ⊗ Π_{s,x} for each setting ``s`` = (prep_a, prep_b, basis_a, basis_b)
    (rows of ``settings``, shape (S, 4)) and outcome x = 2·bit_a + bit_b: shape (S, 4, 16, 16)."""
    out = np.zeros((len(settings), 4, 16, 16), dtype=complex)
    for s, (pa, pb, ba, bb) in enumerate(np.asarray(settings, dtype=int)):
        rho = np.kron(_bloch_state(prep_bloch[pa]), _bloch_state(prep_bloch[pb]))
        for x in range(4):
            sa = 1 - 2 * (x >> 1)
            sb = 1 - 2 * (x & 1)
            proj = np.kron(_bloch_state(sa * basis_axes[ba]), _bloch_state(sb * basis_axes[bb]))
            out[s, x] = np.kron(rho.T, proj)
    return out


def _ptrace_out(j: np.ndarray) -> np.ndarray:
    """Tr_out of (..., 16, 16) → (..., 4, 4)."""
    return np.einsum("...iaja->...ij", j.reshape(j.shape[:-2] + (4, 4, 4, 4)))


def _inv_sqrt(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(m)
    w = np.maximum(w, 1e-300)
    return (v * (1 / np.sqrt(w))[..., None, :]) @ v.conj().swapaxes(-1, -2)


def mle_choi(
    counts: np.ndarray,
    ops: np.ndarray,
    *,
    max_iter: int = 2000,
    tol: float = 1e-9,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Maximum-likelihood CPTP Choi matrices for a batch of count tables.

    :param counts: (B, S, 4) outcome counts per setting (or (S, 4)).
    :param ops: (S, 4, 16, 16) from :func:`setting_operators`.
    :param start: a CPTP Choi matrix to start from (full rank: the iteration keeps its kernel);
        default I/4.
    :return: (B, 16, 16) (or (16, 16)), Tr_out J = I.
    :raises ValueError: no counts, negative counts or shapes that do not match.
    """
    c = np.asarray(counts, dtype=float)
    single = c.ndim == 2
    c = c.reshape((-1,) + c.shape[-2:])
    if c.shape[1:] != ops.shape[:2]:
        raise ValueError(f"counts {c.shape[1:]} do not match the settings {ops.shape[:2]}")
    if np.any(c < 0) or not np.all(np.isfinite(c)) or np.any(c.sum(axis=(1, 2)) == 0):
        raise ValueError("process tomography needs finite counts >= 0, at least one")
    a = ops.reshape(-1, 256)  # (S·4, 256)
    # real arithmetic: p_j = Tr(A_j J) = Σ Re A_j,ik Re J_ki − Im A_j,ik Im J_ki
    a_re = np.ascontiguousarray(a.real)
    a_im = np.ascontiguousarray(a.imag)
    a_p = np.ascontiguousarray(np.concatenate([a_re, -a_im], axis=1).T)  # (512, S·4)
    n = c.reshape(c.shape[0], -1)
    b = c.shape[0]
    j0 = np.eye(16, dtype=complex) / D if start is None else np.asarray(start, dtype=complex)
    j = np.broadcast_to(j0, (b, 16, 16)).copy()
    for _ in range(max_iter):
        jt = j.swapaxes(-1, -2).reshape(b, 256)
        # einsum, not @: its own loop, no BLAS threads (which oversubscribe a busy machine)
        p = np.einsum("bk,kj->bj", np.concatenate([jt.real, jt.imag], axis=1), a_p)
        ratio = np.where(n > 0, n / np.maximum(p, 1e-300), 0.0)
        k_re = np.einsum("bj,jk->bk", ratio, a_re)
        k_im = np.einsum("bj,jk->bk", ratio, a_im)
        k = (k_re + 1j * k_im).reshape(b, 16, 16)
        kjk = k @ j @ k
        lam = _inv_sqrt(_ptrace_out(kjk))
        left = np.einsum("zij,ab->ziajb", lam, np.eye(4)).reshape(b, 16, 16)
        new = left @ kjk @ left.conj().swapaxes(-1, -2)
        new = 0.5 * (new + new.conj().swapaxes(-1, -2))
        done = np.abs(new - j).max() < tol
        j = new
        if done:
            break
    return j[0] if single else j


def choi_of_unitary(u: np.ndarray) -> np.ndarray:
    """J = |U⟩⟩⟨⟨U| with |U⟩⟩ = Σ_i |i⟩ ⊗ U|i⟩ (16×16)."""
    v = np.einsum("ij,ki->ik", np.eye(4), u).reshape(16)  # Σ_i |i⟩⊗U|i⟩
    return np.outer(v, v.conj())


def process_fidelity(choi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """⟨⟨U|J|U⟩⟩/d² of Choi matrices (..., 16, 16)."""
    v = np.einsum("ij,ki->ik", np.eye(4), u).reshape(16)
    return np.real(np.einsum("i,...ij,j->...", v.conj(), choi, v)) / D**2


def average_gate_fidelity(f_pro: np.ndarray | float) -> np.ndarray | float:
    """(d F_pro + 1)/(d + 1) for two qubits (d = 4)."""
    return (D * np.asarray(f_pro) + 1) / (D + 1)


def pauli_transfer_matrix(choi: np.ndarray) -> np.ndarray:
    """R_ij = Tr(P_i Φ(P_j))/4 (16×16, real), Paulis ordered II, IX, IY, IZ, XI, … (qubit A
    first)."""
    out = np.zeros((16, 16))
    for jx, pj in enumerate(_PAULI2):
        # Φ(P) = Tr_in[(P^T ⊗ I) J]
        m = np.kron(pj.T, np.eye(4)) @ choi
        phi = np.einsum("aiaj->ij", m.reshape(4, 4, 4, 4))
        for ix, pi in enumerate(_PAULI2):
            out[ix, jx] = float(np.real(np.trace(pi @ phi))) / D
    return out


def _linear_fidelity(ops: np.ndarray, target: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """F_pro of the least-squares Choi matrix as a linear function of the outcome frequencies,
    (B, S, 4) → (B,) (the settings determine J: 16 inputs × 9 bases)."""
    a = ops.reshape(-1, 256)
    # p = Σ_kl A_kl J_lk = m · x with the real unknowns x = (Re vec J^T, Im vec J^T)
    m = np.concatenate([a.real, -a.imag], axis=1)
    v = np.einsum("ij,ki->ik", np.eye(4), target).reshape(16)
    wt = (np.outer(v.conj(), v) / D**2).T.reshape(256)  # F = Re Σ wt · vec(J^T)
    g = np.concatenate([wt.real, -wt.imag]) @ np.linalg.pinv(m)  # F = g · p

    def fid(freq: np.ndarray) -> np.ndarray:
        return np.einsum("j,bj->b", g, freq.reshape(freq.shape[0], -1))

    return fid


@dataclass(frozen=True)
class GateTomography:
    """A process-tomography result: the CPTP estimate, its Pauli transfer matrix and the
    ideal's, the fidelities with intervals, and the count table it came from."""

    choi: np.ndarray
    ptm: np.ndarray
    ptm_ideal: np.ndarray
    process_fidelity: Estimate
    average_gate_fidelity: Estimate
    counts: np.ndarray
    settings: np.ndarray
    shots: int


def _count_table(
    settings_of_shot: np.ndarray, bit_a: np.ndarray, bit_b: np.ndarray, n_settings: int
) -> np.ndarray:
    counts = np.zeros((n_settings, 4))
    np.add.at(counts, (settings_of_shot, 2 * bit_a + bit_b), 1)
    return counts


def gate_tomography(
    prep_bloch: np.ndarray,
    basis_axes: np.ndarray,
    settings: np.ndarray,
    setting_of_shot: np.ndarray,
    bit_a: np.ndarray,
    bit_b: np.ndarray,
    target: np.ndarray,
    *,
    n_boot: int = 100,
    cl: float = DEFAULT_CL,
    seed: int = 0,
) -> GateTomography:
    """Process tomography of the shots (``setting_of_shot`` indexes the rows of ``settings`` =
    (prep_a, prep_b, basis_a, basis_b)) against the unitary ``target`` (4×4).

    :raises ValueError: no shots, a setting of ``settings`` without shots (its input's image
        in its bases is then not measured: a run stopped early), or settings that do not
        determine a two-qubit process.
    """
    settings = np.asarray(settings, dtype=int)
    s = np.asarray(setting_of_shot, dtype=int)
    if s.size == 0:
        raise ValueError("process tomography: no shots")
    empty = np.setdiff1d(np.arange(len(settings)), s)
    if empty.size:
        raise ValueError(
            f"process tomography needs shots at every setting (input state and basis) of the "
            f"table: {empty.size} of its {len(settings)} have none"
        )
    preps = {(int(a), int(b)) for a, b in settings[np.unique(s), :2]}
    bases = {(int(a), int(b)) for a, b in settings[np.unique(s), 2:]}
    if len(preps) < 16 or len(bases) < 9:
        raise ValueError(
            f"process tomography needs 16 input states and 9 bases with shots, got "
            f"{len(preps)} and {len(bases)}"
        )
    ops = setting_operators(prep_bloch, basis_axes, settings)
    counts = _count_table(s, np.asarray(bit_a, int), np.asarray(bit_b, int), len(settings))
    choi = mle_choi(counts, ops)
    # the fidelity is linear in J: its least-squares (linear-inversion) estimate is unbiased,
    # where the CPTP maximum likelihood's is biased low at a few shots per setting (by 0.04 at 5
    # shots per setting and F = 0.89); intervals from resampling each setting's outcomes
    rng = np.random.default_rng(seed)
    lin = _linear_fidelity(ops, target)
    n_s = counts.sum(axis=1)
    freq = counts / np.maximum(n_s, 1)[:, None]
    f = float(lin(freq[None])[0])
    # parametric bootstrap: outcomes drawn from the CPTP estimate's probabilities (a setting
    # with one shot has no spread of its own); the estimator's spread around its mean there
    # is put around the observed value
    probs = np.clip(np.real(np.einsum("sxij,ji->sx", ops, choi)), 0, None)
    probs /= probs.sum(axis=1, keepdims=True)
    boot = np.array(
        [[rng.multinomial(int(n), p) for n, p in zip(n_s, probs)] for _ in range(n_boot)]
    )
    dev = lin(boot / np.maximum(n_s, 1)[None, :, None]) - lin(probs[None])[0]
    fb = f - dev
    method = f"linear inversion (the process: CPTP maximum likelihood), bootstrap n={n_boot}"
    fp = from_samples(min(max(f, 0.0), 1.0), fb, cl=cl, method=method, clip=(0.0, 1.0))
    fa = from_samples(
        float(average_gate_fidelity(fp.value)),
        np.asarray(average_gate_fidelity(fb)),
        cl=cl,
        method=method,
        clip=(0.0, 1.0),
    )
    return GateTomography(
        choi,
        pauli_transfer_matrix(choi),
        pauli_transfer_matrix(choi_of_unitary(target)),
        fp,
        fa,
        counts,
        settings,
        int(s.size),
    )


@dataclass(frozen=True)
class TruthTable:
    """P(output | input) in the computational basis (rows: input 2a + b, columns: output; a
    row of zeros for an input without shots), the shots per input, and the probability of the
    ideal output with its interval (None: an input has no shots, so the fidelity over the four
    inputs is not determined)."""

    table: np.ndarray
    shots: np.ndarray
    fidelity: Estimate | None

    @property
    def missing_inputs(self) -> list[int]:
        """The inputs (2a + b) without shots."""
        return [int(i) for i in np.flatnonzero(self.shots == 0)]


def truth_table(
    input_a: np.ndarray,
    input_b: np.ndarray,
    bit_a: np.ndarray,
    bit_b: np.ndarray,
    target: np.ndarray,
    *,
    cl: float = DEFAULT_CL,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
) -> TruthTable:
    """The classical truth table of computational-basis inputs (0/1 per qubit) read in Z; its
    fidelity is the mean over the four inputs of the probability of the output ``target`` maps
    the input to, None unless all four inputs have shots. With as many shots of each input (a
    complete run) that is the fraction of all shots with the ideal output, Clopper-Pearson; with
    unequal shots (a run stopped during its last input) the mean of the four proportions with
    split Clopper-Pearson draws (:mod:`analysis.linear_binomial`; ``n_boot`` of them from ``rng``,
    default seeded with 0): the pooled fraction would weigh the inputs by their shots."""
    ia = np.asarray(input_a, int)
    ib = np.asarray(input_b, int)
    if ia.size == 0:
        raise ValueError("truth table: no shots")
    out = 2 * np.asarray(bit_a, int) + np.asarray(bit_b, int)
    inp = 2 * ia + ib
    counts = np.zeros((4, 4))
    np.add.at(counts, (inp, out), 1)
    shots = counts.sum(axis=1)
    table = counts / np.maximum(shots, 1)[:, None]
    ideal = np.argmax(np.abs(target), axis=0)  # the output each basis input goes to
    good = counts[np.arange(4), ideal]
    fidelity = None
    if np.all(shots == shots[0]) and shots[0] > 0:
        fidelity = clopper_pearson(int(good.sum()), int(ia.size), cl=cl)
    elif np.all(shots > 0):
        terms = LinearTerms(good, shots, np.full(4, 0.25), 0.0)
        rng = np.random.default_rng(0) if rng is None else rng
        method = f"mean over the four inputs, {SPLIT_CP}, B={n_boot}"
        fidelity = tail_interval(
            terms.value, terms.draws(n_boot, rng), cl=cl, method=method, clip=(0.0, 1.0)
        )
    return TruthTable(table, shots, fidelity)


def grover_success(
    marked: np.ndarray, bit_a: np.ndarray, bit_b: np.ndarray, *, cl: float = DEFAULT_CL
) -> Estimate:
    """Fraction of shots that read the marked state (2·bit_a + bit_b), Clopper-Pearson."""
    m = np.asarray(marked, int)
    if m.size == 0:
        raise ValueError("Grover success: no shots")
    hits = int(np.sum(2 * np.asarray(bit_a, int) + np.asarray(bit_b, int) == m))
    return clopper_pearson(hits, int(m.size), cl=cl)
