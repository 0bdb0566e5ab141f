# SPDX-License-Identifier: LGPL-3.0-or-later
"""Bell-state analyser: a small exact linear-optics calculation in Fock space.

One *round* is one excitation of node A and/or node B. Each node either emits nothing, one photon
entangled with its qubit ((|0⟩|H⟩ + |1⟩|V⟩)/√2, polarisation encoding), or (double excitation) two
photons whose polarisations are uncorrelated with the qubit, which is left maximally mixed. Photons
are lost before the beam splitter (transmission η) or bit-flipped (ε_pol). Partial
distinguishability: node A's photon occupies internal mode ``s``; node B's is √M·s + √(1−M)·o_B; a
second (double-excitation) photon occupies its own mode x_A/x_B. Beam splitter:
a_A → (c₀ + c₁)/√2, a_B → (c₀ − c₁)/√2; PBS p → detector 2·port + pol (det0 = port0 H ...).

The result of a round is, for each of the 16 click patterns, a linear map (super-operator) on the
joint two-ion density matrix: ρ → Σ_n P(pattern | n) M_n ρ M_n†, where n runs over output Fock
states and M_n maps the initial ion basis |j_A j_B⟩ to the final one. Threshold detectors click
with probability 1 − (1 − d)(1 − a)^N for N photons, acceptance a and dark-click probability d.
With M = 1 this gives P(ψ±) = ½η_Aη_B and HOM visibility M.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .bsa_records import (
    IDENTITY_JONES,
    ORIGIN_A,
    ORIGIN_B,
    ORIGIN_EITHER,
    ORIGIN_NONE,
    H,
    NodeEmission,
    V,
    round_records,
)
from .kraus_traces import gram_rows, traces

__all__ = [
    "IDENTITY_JONES",
    "ORIGIN_A",
    "ORIGIN_B",
    "ORIGIN_EITHER",
    "ORIGIN_NONE",
    "PSI_MINUS",
    "PSI_PLUS",
    "H",
    "NodeEmission",
    "RoundStart",
    "RoundTable",
    "V",
    "build_round",
    "draw_index",
]

PSI_PLUS = (0b0011, 0b1100)
PSI_MINUS = (0b1001, 0b0110)


@dataclass(frozen=True, eq=False)
class RoundTable:
    """Exact outcome table of one round.

    :param superops: shape (16, 16, 16): pattern → super-operator on row-major vec(ρ).
    :param weights: shape (R, 16): P(pattern | record r).
    :param kraus: shape (R, 4, 4): M_r (final ← initial ion basis |j_A j_B⟩, index 2j_A + j_B).
    :param photons: shape (R, 4): photons reaching each detector in record r.
    :param origin: shape (R, 4): origin of detector i's photons (0 A, 1 B, 2 either, −1 none).
    :param accept: shape (4,): acceptance a_i. :param dark: shape (4,): dark-click probability.

    ``pattern_probs`` and ``record_probs`` are memoised by the exact bytes of ``rho`` (the world's
    rounds start from the same pumped state again and again); their arrays are read-only.
    """

    superops: np.ndarray
    weights: np.ndarray
    kraus: np.ndarray
    photons: np.ndarray
    origin: np.ndarray
    accept: np.ndarray
    dark: np.ndarray
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)
    _starts: dict[bytes, RoundStart] = field(default_factory=dict, repr=False)

    def _remember(self, key: tuple, value: np.ndarray) -> np.ndarray:
        if len(self._memo) >= 256:
            for k in [k for k in self._memo if len(k) == 2]:
                del self._memo[k]
        value.setflags(write=False)
        self._memo[key] = value
        return value

    def start(self, rho: np.ndarray) -> RoundStart:
        """The round from the initial joint state ``rho`` (4×4) as a :class:`RoundStart`
        (memoised by the exact bytes of ``rho``, apart from :meth:`pattern_probs`' memo)."""
        key = rho.tobytes()
        hit = self._starts.get(key)
        if hit is None:
            if len(self._starts) >= 1024:
                self._starts.clear()
            rho = rho.copy()
            rho.setflags(write=False)
            hit = self._starts[key] = RoundStart(self, rho)
        return hit

    def pattern_probs(self, rho: np.ndarray) -> np.ndarray:
        """P(pattern) for the initial joint state ``rho`` (4×4), shape (16,)."""
        key = (-1, rho.tobytes())
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        p = np.real(self.superops @ rho.reshape(16)).reshape(16, 4, 4)
        return self._remember(key, np.clip(np.einsum("pii->p", p), 0.0, None))

    def conditional_state(self, pattern: int, rho: np.ndarray) -> tuple[np.ndarray, float]:
        """Normalised post-round state given ``pattern`` and its probability."""
        out = (self.superops[pattern] @ rho.reshape(16)).reshape(4, 4)
        p = float(np.real(np.trace(out)))
        return (out / p if p > 0 else out), p

    def record_probs(self, pattern: int, rho: np.ndarray) -> np.ndarray:
        """P(record r | pattern) for initial state ``rho``, shape (R,)."""
        key = (pattern, rho.tobytes())
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        part = self._memo.get((pattern,))
        if part is None:
            # the records that can give ``pattern``, their weights and (K_r† K_r)ᵀ as rows:
            # Tr(K_r ρ K_r†) = Σ_jm ρ_jm (K_r† K_r)_mj, one sum of products for all r
            # (:mod:`.kraus_traces`: einsum's arithmetic on real arrays)
            # (the rows are computed once for all records: a row does not depend on the others)
            idx = np.nonzero(self.weights[:, pattern] > 0)[0]
            part = self._memo[(pattern,)] = (idx, self.weights[idx, pattern])
        idx, wp = part
        # every record's trace from ``rho`` (each record's own sum: the same bits for all
        # records as for those of one pattern), kept for the other patterns
        qkey = ("traces", key[1])
        q = self._memo.get(qkey)
        if q is None:
            gram = self._memo.get(("gram",))
            if gram is None:
                gram = self._memo[("gram",)] = gram_rows(self.kraus)
            q = self._remember(qkey, traces(gram[0], gram[1], rho))
        q = q[idx]
        w = np.zeros(len(self.kraus))
        w[idx] = wp * np.clip(q, 0, None)
        s = w.sum()
        return self._remember(key, w / s if s > 0 else w)


class RoundStart:
    """One round of a :class:`RoundTable` from one initial state ``rho`` (read-only): the
    table's draws from it, each law's normalised cumulative sum and each pattern's conditional
    state made once (the world's rounds start from the same pumped state again and again); the
    same generator calls and values as :func:`draw_index` on the table's laws."""

    __slots__ = ("table", "rho", "_cdf", "_post", "_rec")

    def __init__(self, table: RoundTable, rho: np.ndarray) -> None:
        self.table = table
        self.rho = rho
        self._cdf: dict[bool, np.ndarray] = {}
        self._post: dict[int, np.ndarray] = {}
        self._rec: dict[int, np.ndarray] = {}

    def draw_pattern(self, rng: np.random.Generator, nonempty: bool = False) -> int:
        """A click pattern drawn from the round's law ``p``: ``draw_index(rng, p / p.sum())``,
        or with ``nonempty`` the law without the empty pattern (``q = p``, ``q[0] = 0``,
        ``draw_index(rng, q / q.sum())``)."""
        cdf = self._cdf.get(nonempty)
        if cdf is None:
            p = self.table.pattern_probs(self.rho)
            if nonempty:
                p = p.copy()
                p[0] = 0.0
            cdf = self._cdf[nonempty] = _cdf(p / p.sum())
        return int(cdf.searchsorted(rng.random(), side="right"))

    def conditional_state(self, pattern: int) -> np.ndarray:
        """The normalised state after ``pattern`` (:meth:`RoundTable.conditional_state`; a
        new array each call)."""
        post = self._post.get(pattern)
        if post is None:
            post = self._post[pattern] = self.table.conditional_state(pattern, self.rho)[0]
        return post.copy()

    def draw_record(self, rng: np.random.Generator, pattern: int) -> int:
        """A record drawn given ``pattern``: ``draw_index(rng, table.record_probs(pattern,
        rho))``."""
        cdf = self._rec.get(pattern)
        if cdf is None:
            cdf = self._rec[pattern] = _cdf(self.table.record_probs(pattern, self.rho))
        return int(cdf.searchsorted(rng.random(), side="right"))


def _cdf(p: np.ndarray) -> np.ndarray:
    """The cumulative sum of ``p``, normalised by its last entry (what :func:`draw_index`
    draws against)."""
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return cdf


def draw_index(rng: np.random.Generator, p: np.ndarray) -> int:
    """An index drawn with probabilities ``p`` (non-negative, summing to 1): the same draw as
    ``rng.choice(len(p), p=p)`` (one uniform against the normalised cumulative sum), without
    its argument checks (≈ 15 µs of a detailed attempt's round)."""
    return int(_cdf(p).searchsorted(rng.random(), side="right"))


@lru_cache(maxsize=512)
def build_round(
    em_a: NodeEmission | None,
    em_b: NodeEmission | None,
    overlap: float,
    accept: tuple[float, float, float, float],
    dark: tuple[float, float, float, float],
) -> RoundTable:
    """Compute the exact round table (cached; all arguments hashable).

    :param overlap: mode overlap M of the two nodes' single photons, 0..1.
    :param accept: per-detector probability that an arriving photon is registered (in the gate).
    :param dark: per-detector probability of a dark click (in the gate).
    """
    rec = round_records(em_a, em_b, overlap)
    a = np.asarray(accept, dtype=float)
    d = np.asarray(dark, dtype=float)
    pc = 1.0 - (1.0 - d) * (1.0 - a) ** rec.photons  # (R, 4)
    # weights[r, p] = Π_i (pc[r, i] if bit i of p else 1 − pc[r, i]), multiplied in order of i:
    # the patterns of detectors 0..i from those of 0..i−1, bit i the slower index
    qc = 1.0 - pc
    weights = np.stack((qc[:, 0], pc[:, 0]), axis=1)
    for i in range(1, 4):
        f = np.stack((qc[:, i], pc[:, i]), axis=1)
        weights = (weights[:, None, :] * f[:, :, None]).reshape(len(pc), 2 << i)
    # superops[p, (k, l), (j, m)] = Σ_r w[r, p] K_r[k, j] K_r*[l, m]: one matrix product of the
    # rows (k, l, j, m) that some record makes non-zero (≈ 30 of 256: a record's Kraus operator
    # has one or two non-zero elements) by the weights; BLAS sums each row's products in the
    # order of the records whatever the other rows, so these are the bits of the product of all
    # 256 rows, and the others are zeros (``tests/physics/test_bsa_records.py``)
    kt = np.ascontiguousarray(rec.kraus.reshape(-1, 16).T)  # (4k + j, r)
    nonzero = (kt != 0).astype(float)
    rows = np.flatnonzero((nonzero @ nonzero.T).reshape(4, 4, 4, 4).transpose(0, 2, 1, 3))
    kj, lm = rows // 64 * 4 + rows // 4 % 4, rows // 16 % 4 * 4 + rows % 4  # row 64k + 16l + 4j + m
    kk, right = kt[kj], kt[lm]  # (in place: fresh pages of a few MB cost more than the products)
    np.multiply(kk, np.conjugate(right, out=right), out=kk)
    flat = np.zeros((16, 256), dtype=complex)
    flat[:, rows] = (kk @ weights).T
    return RoundTable(flat.reshape(16, 16, 16), weights, rec.kraus, rec.photons, rec.origin, a, d)
