# SPDX-License-Identifier: LGPL-3.0-or-later
"""Bell-state fidelity of heralded ψ± states from populations, parity scans and correlations.

Conventions (``docs/datasets.md``): ψ± = (|01⟩ ± |10⟩)/√2 with the first qubit ion A, readout
bit 1 = |1⟩ (bright), Z = diag(1, −1). An analysis pulse of phase φ (turns) is
R(π/2, φ) = exp(−iπ/4 (cos 2πφ X + sin 2πφ Y)); basis X uses φ = 0.25, Y uses φ = 0.5, Z no
pulse. Measuring Z after R(π/2, φ) measures O(φ) = −sin(2πφ) X + cos(2πφ) Y. In a parity scan
ion A's pulse has phase +φ and ion B's −φ (``docs/datasets.md``), so the parity is

    Π(φ) = (⟨YY⟩ − ⟨XX⟩)/2 + (⟨XX⟩ + ⟨YY⟩)/2 · cos 4πφ + (⟨YX⟩ − ⟨XY⟩)/2 · sin 4πφ.

For ψ± the cos 4πφ amplitude is ±C, where C = 2 Re ρ₀₁,₁₀ is the ψ-type coherence: ψ+ gives
the fringe +C cos 4πφ and ψ− gives −C cos 4πφ. The estimator fits
Π(φ) = A + B cos 4πφ + D sin 4πφ by weighted linear least squares and uses F± = ½(P_odd ± B),
which equals ⟨ψ±|ρ|ψ±⟩ exactly: P_odd = ρ₀₁,₀₁ + ρ₁₀,₁₀ and ⟨ψ±|ρ|ψ±⟩ = ½(P_odd ± 2 Re ρ₀₁,₁₀).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .estimate import DEFAULT_CL, Estimate, clopper_pearson, from_samples, jeffreys_draws
from .linear_binomial import (
    SPLIT_CP,
    LinearTerms,
    TailDraws,
    tail_interval,
)
from .spam_correction import spam_correct, spam_error_draws, spam_note

__all__ = [
    "ANALYSIS_PHASE_TURNS",
    "BellFidelity",
    "ParityFit",
    "X",
    "Y",
    "Z",
    "analysis_unitary",
    "bell_state",
    "combine_fidelities",
    "fidelity_correlations",
    "fidelity_parity_scan",
    "fit_parity_scan",
    "p_odd",
    "parity",
    "parity_scan_gap",
    "povm",
    "rotation",
    "scan_unitaries",
]

#: Basis codes of ``herald.basis_a``/``herald.basis_b``.
Z, X, Y = 0, 1, 2
#: Phase (turns) of the π/2 analysis pulse for each basis; ``None`` = no pulse.
ANALYSIS_PHASE_TURNS: dict[int, float | None] = {Z: None, X: 0.25, Y: 0.5}

_SX = np.array([[0, 1], [1, 0]], dtype=complex)
_SY = np.array([[0, -1j], [1j, 0]], dtype=complex)
_I2 = np.eye(2, dtype=complex)
_BOOT_METHOD = "parametric bootstrap, percentile, B={b}"


def rotation(theta: float, phase_turns: float) -> np.ndarray:
    """Single-qubit pulse R(θ, φ) = exp(−iθ/2 (cos 2πφ X + sin 2πφ Y)).

    :param theta: rotation angle in rad
    :param phase_turns: pulse phase φ in turns
    """
    a = 2 * np.pi * phase_turns
    n = np.cos(a) * _SX + np.sin(a) * _SY
    return np.cos(theta / 2) * _I2 - 1j * np.sin(theta / 2) * n


def analysis_unitary(basis: int, phase_turns: float = 0.0) -> np.ndarray:
    """Analysis rotation applied before Z readout for a basis code (0 = Z, 1 = X, 2 = Y).

    ``phase_turns`` is added to the pulse phase (ignored for Z, which has no pulse).
    """
    ph = ANALYSIS_PHASE_TURNS[basis]
    return _I2.copy() if ph is None else rotation(np.pi / 2, ph + phase_turns)


def scan_unitaries(phase_turns: float) -> tuple[np.ndarray, np.ndarray]:
    """Analysis pulses of a parity-scan point: R(π/2, +φ) on ion A and R(π/2, −φ) on ion B."""
    return rotation(np.pi / 2, phase_turns), rotation(np.pi / 2, -phase_turns)


def povm(u_a: np.ndarray, u_b: np.ndarray) -> np.ndarray:
    """Two-ion POVM for analysis unitaries ``u_a``, ``u_b`` followed by Z readout.

    :return: array ``(4, 4, 4)``; element ``o = 2·bit_a + bit_b`` is (U_a⊗U_b)†|o⟩⟨o|(U_a⊗U_b)
    """
    u = np.kron(u_a, u_b)
    return np.stack([u.conj().T @ np.outer(e, e) @ u for e in np.eye(4)])


def bell_state(psi: int) -> np.ndarray:
    """State vector of ψ+ (``psi = +1``) or ψ− (``psi = −1``), basis order |00⟩,|01⟩,|10⟩,|11⟩."""
    if psi not in (1, -1):
        raise ValueError(f"psi must be +1 or -1, got {psi}")
    return np.array([0, 1, psi, 0], dtype=complex) / np.sqrt(2)


@dataclass(frozen=True)
class ParityFit:
    """Weighted linear fit Π(φ) = A + B cos 4πφ + D sin 4πφ of a parity scan.

    ``coef`` holds (A, B, D), or (A,) for a constant fit; ``model`` names the form.
    """

    coef: tuple[float, ...]
    model: str

    def __call__(self, phase_turns: np.ndarray) -> np.ndarray:
        """Fitted parity at ``phase_turns``."""
        return _design(np.asarray(phase_turns, dtype=float), len(self.coef)) @ np.asarray(self.coef)


@dataclass(frozen=True)
class BellFidelity:
    """Fidelity with a heralded ψ± and its ingredients.

    :param psi: +1 for ψ+, −1 for ψ−
    :param fidelity: raw (uncorrected) fidelity estimate
    :param p_odd: probability of anti-correlated Z outcomes (Clopper–Pearson), or ``None``
    :param coherence: ψ-coherence C = ±B (or ±(⟨XX⟩+⟨YY⟩)/2), positive for a good ψ±
    :param fidelity_spam: SPAM-corrected fidelity, reported beside the raw one, or ``None``
    :param heralds: heralds used
    :param samples: draws of the raw fidelity for the two ends of its interval (for combining
        ψ+ and ψ− draw by draw); the parity scan's bootstrap gives the same draws for both
    :param fit: the parity fit, for parity-scan estimates
    :param terms: the raw fidelity as a linear combination of the settings' proportions, for
        correlation estimates (:func:`combine_fidelities` pools them)
    :param spam_errors: the readout errors (ε_A, ε_B) the SPAM-corrected draws used: one
        :class:`TailDraws` per ion when the errors carry standard errors
        (:func:`spam_error_draws`), else the errors; ``None`` without
    """

    psi: int
    fidelity: Estimate
    p_odd: Estimate | None
    coherence: Estimate | None
    fidelity_spam: Estimate | None
    heralds: int
    samples: TailDraws = field(repr=False, compare=False)
    fit: ParityFit | None = None
    terms: LinearTerms | None = field(default=None, repr=False, compare=False)
    spam_errors: tuple[Any, Any] | None = field(default=None, repr=False, compare=False)


def _counts4(counts: np.ndarray) -> np.ndarray:
    c = np.asarray(counts).reshape(-1)
    if c.shape != (4,):
        raise ValueError(
            f"outcome counts need 4 entries (00, 01, 10, 11), got shape {np.shape(counts)}"
        )
    if np.any(c < 0):
        raise ValueError(f"outcome counts must be >= 0, got {c.tolist()}")
    return c.astype(np.int64)


def p_odd(counts: np.ndarray, *, cl: float = DEFAULT_CL) -> Estimate:
    """Probability of anti-correlated outcomes from Z-basis counts (n00, n01, n10, n11).

    Interval: Clopper–Pearson. :raises ValueError: if there are no counts.
    """
    c = _counts4(counts)
    return clopper_pearson(int(c[1] + c[2]), int(c.sum()), cl=cl)


def parity(counts: np.ndarray, *, cl: float = DEFAULT_CL) -> Estimate:
    """Parity Π = (n00 + n11 − n01 − n10)/N with the Clopper–Pearson interval mapped from p_even."""
    c = _counts4(counts)
    e = clopper_pearson(int(c[0] + c[3]), int(c.sum()), cl=cl)
    return Estimate(2 * e.value - 1, 2 * e.lo - 1, 2 * e.hi - 1, cl, e.method)


def _design(phase: np.ndarray, k: int) -> np.ndarray:
    cols = [np.ones_like(phase)]
    if k == 3:
        cols += [np.cos(4 * np.pi * phase), np.sin(4 * np.pi * phase)]
    return np.stack(cols, axis=-1)


def _scan_rank(phase: np.ndarray, n: np.ndarray) -> int:
    """Rank of the fit's design over the phases with heralds (3: the fringe can be fitted)."""
    x = _design(phase, 3)[np.asarray(n, dtype=float) > 0]
    return int(np.linalg.matrix_rank(x)) if x.size else 0


def parity_scan_gap(
    z_counts: np.ndarray, phase_turns: np.ndarray, n_total: np.ndarray
) -> str | None:
    """Why :func:`fidelity_parity_scan` cannot estimate from these heralds, or ``None`` if it
    can: no Z-basis herald for P_odd, or X/Y heralds at fewer than 3 distinct phases (mod 1/2
    turn) for the fringe fit (a short run's few heralds per setting fall to one ψ sign or the
    other)."""
    if int(_counts4(z_counts).sum()) == 0:
        return "no Z-basis heralds for P_odd"
    phase = np.asarray(phase_turns, dtype=float).reshape(-1)
    if _scan_rank(phase, n_total) < 3:
        n = np.asarray(n_total, dtype=float).reshape(-1)
        k = np.unique(np.round(phase[n > 0] % 0.5, 9)).size
        return (
            f"X/Y heralds at {k} distinct phase(s) (mod 1/2 turn); the parity fit needs at least 3"
        )
    return None


def _fit_matrix(phase: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, int, str]:
    """Linear map y → coefficients of the weighted fit, choosing the model by rank."""
    x = _design(phase, 3)
    w = n.astype(float)
    if _scan_rank(phase, w) < 3:
        raise ValueError("parity scan needs at least 3 distinct phases (mod 1/2 turn) with heralds")
    k, model = 3, "A + B cos 4πφ + D sin 4πφ"
    xtw = x.T * w
    return np.linalg.solve(xtw @ x, xtw).T, k, model  # shape (m, k)


def fit_parity_scan(phase_turns: np.ndarray, n_even: np.ndarray, n_total: np.ndarray) -> ParityFit:
    """Fit Π(φ) = A + B cos 4πφ + D sin 4πφ to binned parity-scan counts.

    :param phase_turns: analysis phase of each bin in turns
    :param n_even: correlated outcomes (00 or 11) per bin
    :param n_total: heralds per bin (weights)
    :raises ValueError: on empty input or mismatched shapes
    """
    phase, ne, n = _scan_arrays(phase_turns, n_even, n_total)
    m, _, model = _fit_matrix(phase, n)
    y = 2 * ne / np.maximum(n, 1) - 1
    return ParityFit(tuple(float(v) for v in y @ m), model)


def _scan_arrays(phase_turns, n_even, n_total):
    phase = np.asarray(phase_turns, dtype=float).reshape(-1)
    ne = np.asarray(n_even, dtype=float).reshape(-1)
    n = np.asarray(n_total, dtype=float).reshape(-1)
    if not (phase.shape == ne.shape == n.shape):
        raise ValueError(
            f"parity scan arrays differ in shape: {phase.shape}, {ne.shape}, {n.shape}"
        )
    if n.sum() <= 0:
        raise ValueError("parity scan has no heralds")
    if not np.all(np.isfinite(phase)):
        raise ValueError("parity scan phases contain NaN or inf")
    if np.any(ne < 0) or np.any(ne > n):
        raise ValueError("parity scan needs 0 <= n_even <= n_total")
    return phase, ne, n


def fidelity_parity_scan(
    z_counts: np.ndarray,
    phase_turns: np.ndarray,
    n_even: np.ndarray,
    n_total: np.ndarray,
    *,
    psi: int,
    cl: float = DEFAULT_CL,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
    readout_errors: tuple[float, float] | None = None,
    readout_sigmas: tuple[float, float] | None = None,
) -> BellFidelity:
    """F = ½(P_odd ± B) from Z-basis populations and a parity scan (see module docstring).

    Interval: parametric bootstrap (percentile) — scan bins resampled binomially from the
    fitted model, P_odd drawn from its Jeffreys posterior; the fit is refitted per sample.
    Value and bounds are clipped to [0, 1].

    :param z_counts: Z-basis outcome counts (n00, n01, n10, n11)
    :param readout_errors: (ε_A, ε_B) for the SPAM-corrected value
    :param readout_sigmas: their calibration's standard errors, propagated into the
        SPAM-corrected interval (:func:`spam_error_draws`; ``None``: the errors are treated as
        exact, and it says so)
    :raises ValueError: on empty or inconsistent input
    """
    bell_state(psi)
    rng = rng if rng is not None else np.random.default_rng(0)
    zc = _counts4(z_counts)
    nz = int(zc.sum())
    if nz == 0:
        raise ValueError("no Z-basis heralds for P_odd")
    phase, ne, n = _scan_arrays(phase_turns, n_even, n_total)
    m, k, model = _fit_matrix(phase, n)
    y = 2 * ne / np.maximum(n, 1) - 1
    coef = y @ m
    fit = ParityFit(tuple(float(v) for v in coef), model)
    podd = p_odd(zc, cl=cl)
    f = 0.5 * (podd.value + psi * coef[1])
    # parametric bootstrap from the fitted model
    eps = 0.5 / n.sum()
    p_fit = np.clip((1 + _design(phase, k) @ coef) / 2, eps, 1 - eps)
    ne_s = rng.binomial(n.astype(np.int64), p_fit, size=(n_boot, n.size))
    a_s = (2 * ne_s / np.maximum(n, 1) - 1) @ m[:, 1]
    po_s = jeffreys_draws(np.array(zc[1] + zc[2]), np.array(nz), n_boot, rng)
    f_s = 0.5 * (po_s + psi * a_s)
    method = _BOOT_METHOD.format(b=n_boot) + f"; parity fit {model}"
    fid = from_samples(f, f_s, cl=cl, method=method, clip=(0.0, 1.0))
    coh = from_samples(psi * coef[1], psi * a_s, cl=cl, method=method, clip=(-1.0, 1.0))
    fid_spam, drawn = None, None
    if readout_errors is not None:
        drawn = spam_error_draws(readout_errors, readout_sigmas, n_boot, rng)
        s_spam = spam_correct(TailDraws(f_s, f_s), drawn, populations=True)
        v = float(spam_correct(f, readout_errors, populations=True))
        note = spam_note(readout_errors, readout_sigmas)
        fid_spam = tail_interval(v, s_spam, cl=cl, method=method + note, clip=(0.0, 1.0))
    return BellFidelity(
        psi,
        fid,
        podd,
        coh,
        fid_spam,
        int(nz + n.sum()),
        TailDraws(f_s, f_s),
        fit=fit,
        spam_errors=drawn,
    )


def fidelity_correlations(
    xx: np.ndarray,
    yy: np.ndarray,
    zz: np.ndarray,
    *,
    psi: int,
    cl: float = DEFAULT_CL,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
    readout_errors: tuple[float, float] | None = None,
    readout_sigmas: tuple[float, float] | None = None,
) -> BellFidelity:
    """F = (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4 from outcome counts in the XX, YY and ZZ settings.

    Each argument is a 4-vector of counts (n00, n01, n10, n11). ⟨PP⟩ = 2·p_even − 1 (the sign
    of the analysis rotation cancels in same-basis products), so F = ½ Σ sᵢ p_even,i + const
    is a linear combination of three binomial proportions. Interval: split Clopper–Pearson
    draws (:mod:`analysis.linear_binomial`; exact Clopper–Pearson for the pooled counts near
    F = 1, each tail missing at most about α/2), clipped to [0, 1]. The coherence likewise.

    :param readout_errors: (ε_A, ε_B) for the SPAM-corrected value F_c = ¼ + (F − ¼)/k
        (:func:`spam_factors`), from the same draws
    :param readout_sigmas: their standard errors (as :func:`fidelity_parity_scan`)
    :raises ValueError: if a setting has no counts
    """
    bell_state(psi)
    rng = rng if rng is not None else np.random.default_rng(0)
    cs = [_counts4(c) for c in (xx, yy, zz)]
    ks = np.array([c[0] + c[3] for c in cs])
    ns = np.array([c.sum() for c in cs])
    if np.any(ns == 0):
        names = [nm for nm, n in zip(("XX", "YY", "ZZ"), ns) if n == 0]
        raise ValueError(f"no heralds in setting(s) {', '.join(names)}")
    signs = np.array([psi, psi, -1.0])
    # F = ¼(1 − Σ sᵢ) + ½ Σ sᵢ pᵢ and C = ψ(p_XX + p_YY − 1)
    terms = LinearTerms(ks, ns, signs / 2, 0.25 * (1 - signs.sum()))
    f_s = terms.draws(n_boot, rng)
    coh_terms = LinearTerms(ks, ns, np.array([psi, psi, 0.0]), -psi)
    coh_s = coh_terms.draws(n_boot, rng)
    method = f"{SPLIT_CP}, B={n_boot}; F from the XX, YY, ZZ correlations ({int(ns.sum())} heralds)"
    est = tail_interval(terms.value, f_s, cl=cl, method=method, clip=(0.0, 1.0))
    zodd = clopper_pearson(int(cs[2][1] + cs[2][2]), int(ns[2]), cl=cl)
    coh = tail_interval(coh_terms.value, coh_s, cl=cl, method=method, clip=(-1.0, 1.0))
    fid_spam, drawn = None, None
    if readout_errors is not None:
        drawn = spam_error_draws(readout_errors, readout_sigmas, n_boot, rng)
        s_spam = spam_correct(f_s, drawn, populations=False)
        fid_spam = tail_interval(
            float(spam_correct(terms.value, readout_errors, populations=False)),
            s_spam,
            cl=cl,
            method=method + spam_note(readout_errors, readout_sigmas),
            clip=(0.0, 1.0),
        )
    return BellFidelity(
        psi,
        est,
        zodd,
        coh,
        fid_spam,
        int(ns.sum()),
        f_s,
        terms=terms,
        spam_errors=drawn,
    )


def _clauses(method: str) -> list[str]:
    """An estimate's method text split at its top-level "; " (not inside parentheses)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(method):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ";" and depth == 0:
            out.append(method[start:i].strip())
            start = i + 1
    out.append(method[start:].strip())
    return out


def combine_fidelities(
    parts: list[BellFidelity], *, spam: bool = False, rng: np.random.Generator | None = None
) -> Estimate:
    """Herald-weighted mean fidelity of ψ+ and ψ− (the mean fidelity of a heralded state).

    Correlation estimates (all parts carry ``terms``): the mean is one linear combination of all
    the parts' settings, drawn afresh with ``rng`` (split Clopper–Pearson, one pseudo-outcome
    for all, as many draws as the parts have). Otherwise (parity scans) the parts' raw draws
    are combined draw by draw with the same weights. SPAM-corrected: the mean of the raw draws
    corrected with the first part's readout-error draws, since the parts share one readout
    calibration (each part's own draws, averaged, would narrow its uncertainty by up to √2).
    :raises ValueError: if ``parts`` is empty or the parts carry different numbers of draws
    """
    if not parts:
        raise ValueError("no fidelity estimates to combine")
    if len(parts) == 1:
        p = parts[0]
        return p.fidelity_spam if spam else p.fidelity  # type: ignore[return-value]
    w = np.array([p.heralds for p in parts], dtype=float)
    w /= w.sum()
    ests = [p.fidelity_spam if spam else p.fidelity for p in parts]
    if any(e is None for e in ests) or (spam and parts[0].spam_errors is None):
        raise ValueError("SPAM-corrected values missing for some parts")
    if len({p.samples.size for p in parts}) != 1:
        raise ValueError("parts carry different numbers of bootstrap samples")
    value = float(sum(wi * e.value for wi, e in zip(w, ests)))  # type: ignore[union-attr]
    terms = [p.terms for p in parts]
    if all(t is not None for t in terms):
        rng = rng if rng is not None else np.random.default_rng(0)
        s = LinearTerms.combine(w, terms).draws(parts[0].samples.size, rng)  # type: ignore[arg-type]
    else:
        s = TailDraws.combine(w, [p.samples for p in parts])
    if spam:
        s = spam_correct(s, parts[0].spam_errors, populations=parts[0].terms is None)
    head, *rest = _clauses(ests[0].method)  # type: ignore[union-attr]
    # (a SPAM-corrected estimate keeps what it says about the readout errors)
    spam_part = [r for r in rest if "SPAM-corrected" in r] if spam else []
    method = "; ".join([head, *spam_part, "herald-weighted mean of ψ+ and ψ−"])
    return tail_interval(value, s, cl=ests[0].cl, method=method, clip=(0.0, 1.0))  # type: ignore[union-attr]
