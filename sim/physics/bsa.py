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

import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, product
from typing import Any

import numpy as np

__all__ = [
    "IDENTITY_JONES",
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

H, V = 0, 1
PSI_PLUS = (0b0011, 0b1100)
PSI_MINUS = (0b1001, 0b0110)
_S, _OB, _XA, _XB = 0, 1, 2, 3  # internal (temporal/spectral/spatial) modes
_NINT = 4
IDENTITY_JONES: tuple[complex, complex, complex, complex] = (1.0, 0.0, 0.0, 1.0)
ORIGIN_A, ORIGIN_B, ORIGIN_EITHER, ORIGIN_NONE = 0, 1, 2, -1
_BITS = (np.arange(16)[:, None] >> np.arange(4)) & 1  # pattern → detectors that clicked (16, 4)


@dataclass(frozen=True)
class NodeEmission:
    """What one excited node sends towards the analyser in this round.

    :param p1: probability of exactly one emission from the addressed state |0⟩.
    :param p2: probability of two emissions (double excitation).
    :param eta: probability that an emitted photon reaches the beam splitter on the qubit
        transition (branching × collection × optics × fibre).
    :param eps_pol: polarisation bit-flip probability ε_pol.
    :param jones: Jones matrix (row-major ``(HH, HV, VH, VV)``) of the photon's path from the
        node to the analyser (fibre rotation and compensator), applied to the qubit-entangled
        photon; the identity leaves the table exactly as without it. (A double excitation's
        photons are unpolarised, which no rotation changes.)
    """

    p1: float
    p2: float
    eta: float
    eps_pol: float = 0.0
    jones: tuple[complex, complex, complex, complex] = IDENTITY_JONES


# entry: (j_initial, k_final, amplitude, photons); photon = (polarisation, internal) with
# polarisation ((pol, coeff), ...) and internal ((mode, coeff), ...)
_Amps = tuple[tuple[int, complex], ...]
_Photon = tuple[_Amps, _Amps]
_Entry = tuple[int, int, float, tuple[_Photon, ...]]


def _polarised(jones: tuple[complex, complex, complex, complex], pol: int) -> _Amps:
    """Polarisation amplitudes of a photon emitted in ``pol`` after the path ``jones``."""
    col = (jones[0], jones[2]) if pol == H else (jones[1], jones[3])
    return tuple((p, c) for p, c in zip((H, V), col) if c != 0)


def _node_options(em: NodeEmission | None, node: int, overlap: float) -> list[list[_Entry]]:
    """Incoherent options of one node, each a coherent list of branch entries."""
    if em is None:
        return [[(0, 0, 1.0, ()), (1, 1, 1.0, ())]]
    first = (
        ((_S, 1.0),)
        if node == 0
        else ((_S, math.sqrt(overlap)), (_OB, math.sqrt(max(1.0 - overlap, 0.0))))
    )
    second = ((_XA if node == 0 else _XB, 1.0),)
    p0 = max(1.0 - em.p1 - em.p2, 0.0)
    opts: list[list[_Entry]] = [[(0, 0, math.sqrt(p0), ()), (1, 1, 1.0, ())]]
    r2 = math.sqrt(0.5)
    for flip, w in ((0, 1 - em.eps_pol), (1, em.eps_pol)):
        a = math.sqrt(em.p1 * em.eta * w)
        if a > 0:
            ph, pv = _polarised(em.jones, H ^ flip), _polarised(em.jones, V ^ flip)
            opts.append([(0, 0, a * r2, ((ph, first),)), (0, 1, a * r2, ((pv, first),))])
    lost = math.sqrt(em.p1 * (1 - em.eta) / 2)
    if lost > 0:
        opts += [[(0, 0, lost, ())], [(0, 1, lost, ())]]
    if em.p2 > 0:
        outcomes = ((H, em.eta / 2), (V, em.eta / 2), (None, 1 - em.eta))
        for k, (p1_, w1), (p2_, w2) in product((0, 1), outcomes, outcomes):
            a = math.sqrt(em.p2 * 0.5 * w1 * w2)
            if a <= 0:
                continue
            photons: tuple[tuple[int | None, _Amps], ...] = ((p1_, first), (p2_, second))
            two: tuple[_Photon, ...] = tuple(
                (((pol, 1.0),), modes) for pol, modes in photons if pol is not None
            )
            opts.append([(0, k, a, two)])
    return opts


def _output_vector(node: int, polarisation: _Amps, internal: _Amps) -> list[tuple[int, complex]]:
    """Sparse output-mode amplitudes of one photon after BS and PBS."""
    sign1 = 1.0 if node == 0 else -1.0
    out = []
    for port, s in ((0, 1.0), (1, sign1)):
        for pol, u in polarisation:
            det = 2 * port + pol
            for m, c in internal:
                if c != 0:
                    out.append((det * _NINT + m, s * (c * u) / math.sqrt(2)))
    return out


def _fock(vectors: list[list[tuple[int, complex]]]) -> dict[tuple[int, ...], complex]:
    """Fock amplitudes of Π_p (Σ_m c_pm a†_m)|0⟩, keyed by the sorted tuple of occupied modes."""
    acc: dict[tuple[int, ...], complex] = {}
    for combo in product(*vectors):
        key = tuple(sorted(m for m, _ in combo))
        amp: complex = 1.0
        for _, c in combo:
            amp *= c
        acc[key] = acc.get(key, 0.0) + amp
    for key in acc:
        f = 1
        for m in set(key):
            f *= math.factorial(key.count(m))
        acc[key] *= math.sqrt(f)
    return acc


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
            # Tr(K_r ρ K_r†) = Σ_jm ρ_jm (K_r† K_r)_mj, one sum of products for all r (einsum's
            # own loop: ≈ 10x faster than the batched K_r ρ; BLAS would spawn threads)
            # (the rows are computed once for all records: a row does not depend on the others)
            gram = self._memo.get(("gram",))
            if gram is None:
                k = self.kraus
                gram = np.einsum("rkj,rkm->rjm", k, k.conj()).reshape(len(k), 16)
                self._memo[("gram",)] = gram
            idx = np.nonzero(self.weights[:, pattern] > 0)[0]
            part = self._memo[(pattern,)] = (idx, self.weights[idx, pattern], gram[idx])
        idx, wp, gram = part
        q = np.einsum("rj,j->r", gram, rho.reshape(16)).real
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
    rec = _records(em_a, em_b, overlap)
    a = np.asarray(accept, dtype=float)
    d = np.asarray(dark, dtype=float)
    pc = 1.0 - (1.0 - d) * (1.0 - a) ** rec.photons  # (R, 4)
    # weights[r, p] = Π_i (pc[r, i] if bit i of p else 1 − pc[r, i]), multiplied in order of i
    qc = 1.0 - pc
    weights = np.ones((len(pc), 16))
    for i in range(4):
        weights = weights * np.where(_BITS[:, i] == 1, pc[:, i : i + 1], qc[:, i : i + 1])
    # superops[p, (k, l), (j, m)] = Σ_r w[r, p] K_r[k, j] K_r*[l, m]  (one matrix product)
    # (K_r[k, j] K_r*[l, m] laid out with r last: the products run along the records, not along
    # 4-element rows, twice as fast as the records-first layout, the same bits)
    kt = np.ascontiguousarray(rec.kraus.transpose(1, 2, 0))  # (k, j, r)
    kk = (kt[:, None, :, None, :] * kt.conj()[None, :, None, :, :]).reshape(256, len(rec.kraus))
    superops = np.ascontiguousarray((kk @ weights).T).reshape(16, 16, 16)
    return RoundTable(superops, weights, rec.kraus, rec.photons, rec.origin, a, d)


@dataclass(frozen=True, eq=False)
class _Records:
    """A round's output records, whatever the gates: Kraus operators ``kraus`` (R, 4, 4),
    ``photons`` and ``origin`` per detector (R, 4)."""

    kraus: np.ndarray
    photons: np.ndarray
    origin: np.ndarray


@lru_cache(maxsize=64)
def _records(em_a: NodeEmission | None, em_b: NodeEmission | None, overlap: float) -> _Records:
    """The round's records (cached apart from the gates' acceptance and dark clicks, which only
    weight them: a cycle model for other gates reuses them). Read-only arrays; K_r ⊗ K_r* (25 MB
    at R ≈ 6000) is not kept."""
    opts = (_node_options(em_a, 0, overlap), _node_options(em_b, 1, overlap))
    # the same photons (and output Fock states) recur across the options' branches: each Fock
    # expansion, origin code and photon count is computed once; Kraus rows accumulate as lists
    # per photons: their output Fock states with amplitude, origin codes and photon counts
    fock: dict[tuple, list[tuple[tuple[int, ...], complex, list[int], list[int]]]] = {}
    codes: dict[tuple, list[int]] = {}
    counts: dict[tuple[int, ...], list[int]] = {}
    rows: list[list[complex]] = []
    orig: list[list[int]] = []
    photon_rows: list[list[int]] = []
    for oa, ob in product(*opts):
        rec: dict[tuple[int, ...], list[complex]] = {}
        for (ja, ka, aa, pa), (jb, kb, ab, pb) in product(oa, ob):
            amps = fock.get((pa, pb))
            if amps is None:
                vecs = [_output_vector(0, pol, m) for pol, m in pa] + [
                    _output_vector(1, pol, m) for pol, m in pb
                ]
                amps = fock[(pa, pb)] = []
                for key, amp in _fock(vecs).items():
                    emits = (key, bool(pa), bool(pb))
                    code = codes.get(emits)
                    if code is None:
                        code = codes[emits] = _origin_codes(*emits)
                    n = counts.get(key)
                    if n is None:
                        n = counts[key] = [0] * 4
                        for mode in key:
                            n[mode // _NINT] += 1
                    amps.append((key, amp, code, n))
            col = 4 * (2 * ka + kb) + 2 * ja + jb  # row-major (final, initial) of a 4×4 matrix
            w = aa * ab
            for key, amp, code, n in amps:
                row = rec.get(key)
                if row is None:
                    row = rec[key] = [0j] * 16
                    orig.append(code)
                    photon_rows.append(n)
                row[col] += w * amp
        rows.extend(rec.values())
    kraus_all = _flat(rows, complex).reshape(-1, 4, 4)
    keep = np.nonzero(np.abs(kraus_all).max(axis=(1, 2)) >= 1e-12)[0]
    kraus = kraus_all[keep]
    photons = _flat(photon_rows, np.int64).reshape(-1, 4)[keep]
    origin = _flat(orig, np.int64).reshape(-1, 4)[keep]
    for arr in (kraus, photons, origin):
        arr.setflags(write=False)
    return _Records(kraus, photons, origin)


def _flat(rows: list[list[Any]], dtype: Any) -> np.ndarray:
    """The equal-length ``rows`` as one flat array (faster than ``np.array`` of the lists)."""
    n = len(rows[0]) * len(rows) if rows else 0
    return np.fromiter(chain.from_iterable(rows), dtype=dtype, count=n)


def _origin_codes(key: tuple[int, ...], a_emits: bool, b_emits: bool) -> list[int]:
    """Origin code of the photons at each detector for one output Fock state."""
    o = [ORIGIN_NONE] * 4
    for mode in key:
        det, m = divmod(mode, _NINT)
        if m in (_XA,) or (m == _S and not b_emits):
            code = ORIGIN_A
        elif m in (_OB, _XB) or (m == _S and not a_emits):
            code = ORIGIN_B
        else:
            code = ORIGIN_EITHER
        if o[det] == ORIGIN_NONE:
            o[det] = code
    return o


def _origin(key: tuple[int, ...], a_emits: bool, b_emits: bool) -> np.ndarray:
    """Origin code of the photons at each detector for one output Fock state."""
    return np.array(_origin_codes(key, a_emits, b_emits), dtype=np.int64)
