# SPDX-License-Identifier: LGPL-3.0-or-later
"""Per-herald reduction of remote-entanglement data into outcome tables.

Each herald becomes a small integer code (index of its analysis phase · 72 + ψ sign · 36 +
basis_a · 12 + basis_b · 4 + outcome), accumulated chunk by chunk (:func:`reduce_chunk`) in
:class:`HeraldTables` together with the click patterns, attempts-per-herald histogram, click times
and lab times; one ``np.bincount`` then gives every outcome table (:func:`_tables`). Arrays in,
tables out: no file access here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import heralds as hs
from . import photons as ph
from .io import DataError

__all__ = ["HeraldTables", "OutcomeTables", "ParityScan", "detection_phase_shift", "reduce_chunk"]

_PHASE_Q = 1 << 30

_NSET = 72  # settings per phase: ψ sign (2) × basis_a (3) × basis_b (3) × outcome (4)


@dataclass
class HeraldTables:
    """Per-herald reductions accumulated over chunks and files (filled by :func:`reduce_chunk`)."""

    codes: list[np.ndarray] = field(
        default_factory=list
    )  # phase index · 72 + setting code, per herald
    phase_q: dict[int, int] = field(
        default_factory=dict
    )  # quantised phase (turns · 2**30) -> phase index
    #: per chunk, each herald's latest click (mu from the attempt cycle's start; −1: none)
    t_last: list[np.ndarray] = field(default_factory=list)
    #: per chunk of ``t_last``, the index of the run it came from (:attr:`run_index`)
    t_last_run: list[int] = field(default_factory=list)
    t_lab: list[tuple[int, np.ndarray]] = field(
        default_factory=list
    )  # (run index, herald.t_lab_mu)
    run_index: int = 0
    patterns: np.ndarray = field(default_factory=lambda: np.zeros(16, np.int64))
    has_pattern: bool = True
    att_counts: np.ndarray | None = None
    att_sum: int = 0
    att_n: int = 0
    det_hist: ph.IncrementalHistogram = field(default_factory=ph.IncrementalHistogram)
    tag_hist: ph.IncrementalHistogram = field(default_factory=ph.IncrementalHistogram)
    want_t_last: bool = True
    want_det_hist: bool = True
    want_t_lab: bool = True
    #: the analysis phases (turns) programmed for the X/Y heralds, before any detection-time
    #: correction (which spreads them): the parity scan's settings reached
    xy_phases: set[float] = field(default_factory=set)

    def phase_index(self, q: int) -> int:
        return self.phase_q.setdefault(int(q), len(self.phase_q))

    def phases(self) -> np.ndarray:
        """Phase in turns of each phase index."""
        return np.array(list(self.phase_q), dtype=np.int64) / _PHASE_Q


def _phase_codes(acc: HeraldTables, phase: np.ndarray, scale: int = 1) -> np.ndarray:
    """Phase index of each herald (times ``scale``); phases equal modulo 1 turn (to 2**-30
    turn) share an index.

    Fast path (no sort): phases in [0, 1) on the grid k/4096 turn (k/16, k/64, …).
    """
    x = phase * 4096.0  # exact (power of two)
    g = x.astype(np.intp)  # NaN/huge/non-grid values fail the equality below
    if np.array_equal(g, x):
        try:
            cnt = np.bincount(g)
        except ValueError:  # negative phases
            cnt = None
        if cnt is not None and cnt.size <= 4096:
            present = np.flatnonzero(cnt)
            idx = [acc.phase_index(int(v) << 18) * scale for v in present]  # quantised as below
            lut = np.zeros(cnt.size, _code_dtype(acc, scale))
            lut[present] = idx
            return lut[g]
    q = np.round(np.mod(phase, 1.0) * _PHASE_Q).astype(np.int64) % _PHASE_Q
    u, inv = np.unique(q, return_inverse=True)
    idx = [acc.phase_index(int(v)) * scale for v in u]
    return np.array(idx, _code_dtype(acc, scale))[inv.reshape(-1)]


def _code_dtype(acc: HeraldTables, scale: int) -> type[np.signedinteger]:
    """int32 while every code (phase index · scale + setting < 72) fits, else intp: the codes
    are kept until the summary's tables are filled, half the memory of intp."""
    return np.int32 if (len(acc.phase_q) + 1) * max(scale, _NSET) < 2**31 else np.intp


def _check_chunk(path: str | os.PathLike[str], c: dict[str, np.ndarray], mode: str) -> None:
    for k in ("herald.basis_a", "herald.basis_b"):
        if np.any((c[k] < 0) | (c[k] > 2)):
            raise DataError(path, f"{k} has values outside 0, 1, 2")
    for k in ("herald.bit_a", "herald.bit_b"):
        if np.any((c[k] != 0) & (c[k] != 1)):
            raise DataError(path, f"{k} has values other than 0 and 1")
    for k, a in c.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            bad = int(np.count_nonzero(~np.isfinite(a)))
            raise DataError(path, f"{k} contains NaN or inf ({bad} of {a.shape[0]} rows)")
    if "herald.t_det_mu" in c and (
        c["herald.t_det_mu"].ndim != 2 or c["herald.t_det_mu"].shape[1] != 4
    ):
        raise DataError(
            path,
            f"shape mismatch: herald.t_det_mu has shape {c['herald.t_det_mu'].shape[1:]} per row, "
            "expected (4,)",
        )


def detection_phase_shift(t_det_mu: np.ndarray, phase_hz: float, mu_s: float = 1e-9) -> np.ndarray:
    """Per-herald parity-scan phase shift (turns) that undoes the detection-time phase.

    A herald with clicks at t_H (H detector, det0 or det2) and t_V (V detector, det1 or det3)
    carries the state |01⟩ ± e^{iφ_h}|10⟩ with φ_h = 2π·f·(t_H − t_V) (the photon's two
    polarisation components differ in frequency by f, ≈ the qubit splitting; ``sim.physics``
    models the same). Under the parity-scan pulses (+φ on A, −φ on B) its fringe is
    ±C·cos(4πφ − φ_h), so the effective scan phase is φ − f·(t_H − t_V)/2. Heralds without both
    timestamps get no shift.
    """
    t = np.asarray(t_det_mu)
    t_h = np.maximum(t[:, 0], t[:, 2])
    t_v = np.maximum(t[:, 1], t[:, 3])
    ok = (t_h >= 0) & (t_v >= 0)
    return np.where(ok, 0.5 * phase_hz * (t_h - t_v) * mu_s, 0.0)


def reduce_chunk(
    path: str | os.PathLike[str],
    c: dict[str, np.ndarray],
    mode: str,
    acc: HeraldTables,
    edges: np.ndarray | None,
    phase_hz: float = 0.0,
) -> None:
    """Add one chunk of per-herald arrays (``herald.*`` keys, equal length) to ``acc``.

    :param path: the file the chunk comes from (named in errors)
    :param edges: attempts-per-herald bin edges (:func:`analysis.heralds.geometric_edges`)
    :param phase_hz: detection-time phase frequency to correct parity-scan phases by (0: none)
    :raises DataError: on values outside the schema (bases, bits, ψ, attempts, NaN)
    """
    _check_chunk(path, c, mode)
    psi = c["herald.psi"] if "herald.psi" in c else hs.psi_from_pattern(c["herald.pattern"])
    if np.any((psi != 1) & (psi != -1)):
        raise DataError(
            path, "herald.psi has values other than +1 and -1 (or patterns that herald nothing)"
        )
    # setting code ψ_i·36 + basis_a·12 + basis_b·4 + 2·bit_a + bit_b
    # (< 72: int8 arithmetic for int8 data)
    small = (
        c["herald.basis_a"] * 12
        + c["herald.basis_b"] * 4
        + c["herald.bit_a"] * 2
        + c["herald.bit_b"]
        + (psi < 0).view(np.int8) * np.int8(36)
    )
    if "herald.phase" in c:
        phase = c["herald.phase"]
        acc.xy_phases.update(np.unique(phase[c["herald.basis_a"] != 0]).tolist())
        if phase_hz and "herald.t_det_mu" in c:  # on a 1/1024-turn grid: < 2e-5 loss of contrast
            shifted = np.mod(phase - detection_phase_shift(c["herald.t_det_mu"], phase_hz), 1.0)
            shifted = np.mod(np.round(shifted * 1024.0) / 1024.0, 1.0)
            phase = np.where(c["herald.basis_a"] != 0, shifted, phase)
        code = _phase_codes(acc, phase, _NSET)
    else:
        code = np.full(small.shape, acc.phase_index(0) * _NSET, np.intp)
    np.add(
        code, small, out=code, casting="unsafe"
    )  # values validated above: exact for float data too
    acc.codes.append(code)
    if "herald.pattern" in c:
        p = c["herald.pattern"]
        acc.patterns += np.bincount(np.clip(p, 0, 15).astype(np.intp), minlength=16)
    else:
        acc.has_pattern = False
    if "herald.attempts" in c and edges is not None:
        a = c["herald.attempts"]
        if np.any(a < 1):
            raise DataError(path, "herald.attempts has values < 1")
        if edges[-1] <= (
            1 << 22
        ):  # count per attempts value (overflow at edges[-1]), then sum per bin
            per_value = np.bincount(
                np.minimum(a, edges[-1]).astype(np.intp, copy=False), minlength=int(edges[-1]) + 1
            )
            binned = np.add.reduceat(per_value, edges)
        else:
            binned = np.bincount(np.searchsorted(edges, a, side="right") - 1, minlength=edges.size)
        acc.att_counts = (0 if acc.att_counts is None else acc.att_counts) + binned
        acc.att_sum += int(a.sum())
        acc.att_n += a.size
    if "herald.t_lab_mu" in c and acc.want_t_lab:
        acc.t_lab.append((acc.run_index, c["herald.t_lab_mu"].astype(np.int64, copy=False)))
    if "herald.t_det_mu" in c:
        t = c["herald.t_det_mu"]
        if acc.want_t_last:  # latest click (−1: none); non-clicks are −1 (negative) by the schema
            last = np.maximum(t[:, 0], t[:, 1])
            if last.dtype.kind == "i":  # in place (max is exact in any order)
                for d in (2, 3):
                    np.maximum(last, t[:, d], out=last)
                acc.t_last.append(np.maximum(last, -1, out=last))
            else:
                acc.t_last.append(np.maximum(np.maximum(last, np.maximum(t[:, 2], t[:, 3])), -1))
            acc.t_last_run.append(acc.run_index)
        if acc.want_det_hist:
            acc.det_hist.add(t[t >= 0])


@dataclass(frozen=True)
class ParityScan:
    """Heralds of one ψ sign in the X/Y analysis settings, binned by analysis phase.

    :param phase_turns: analysis phase of each bin, in turns (increasing)
    :param n_even: heralds with even parity (outcomes 00 and 11) per bin
    :param n: heralds per bin
    """

    phase_turns: np.ndarray
    n_even: np.ndarray
    n: np.ndarray


@dataclass(frozen=True)
class OutcomeTables:
    """Outcome counts per ψ sign, shape (3, 3, 4): basis_a × basis_b × outcome (2·bit_a + bit_b),
    and the parity scans per ψ sign (signs without X/Y heralds absent)."""

    counts: dict[int, np.ndarray]
    scans: dict[int, ParityScan]


def _tables(table: np.ndarray, phases: np.ndarray) -> OutcomeTables:
    """The :class:`OutcomeTables` of a herald-count table.

    :param table: herald counts, shape (phases, 72): column
        ψ_i·36 + basis_a·12 + basis_b·4 + outcome
    :param phases: phase in turns of each row
    """
    t = np.asarray(table, dtype=np.int64).reshape(-1, 2, 3, 3, 4)
    order = np.argsort(phases, kind="stable")
    counts: dict[int, np.ndarray] = {}
    scans: dict[int, ParityScan] = {}
    for i, s in ((0, 1), (1, -1)):
        blk = t[:, i]
        if not blk.any():
            continue
        counts[s] = blk.sum(axis=0)
        scan = blk.copy()
        scan[:, 0, 0, :] = 0  # every setting but Z/Z, binned by phase
        n = scan.sum(axis=(1, 2, 3))[order]
        keep = n > 0
        if keep.any():
            ne = (scan[..., 0] + scan[..., 3]).sum(axis=(1, 2))[order]
            scans[s] = ParityScan(phases[order][keep], ne[keep], n[keep])
    return OutcomeTables(counts, scans)
