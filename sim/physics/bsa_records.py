# SPDX-License-Identifier: LGPL-3.0-or-later
"""A Bell-state analyser round's records: what the two nodes emit (:class:`NodeEmission`), each
node's incoherent options of coherent branches, and their output Fock states after the beam
splitter and the polarising beam splitters, each with its Kraus operator on the two ions (final ←
initial), its photons per detector and their origin (:func:`round_records`). :mod:`.bsa` weights
them by the gates' click probabilities into a round table.

The records are enumerated as arrays (entry pairs in product order, each pair's Fock states
gathered from the tables of its photon sets): the same records in the same order, with the same
bits, as the loop over option pairs and entry pairs it replaced (``tests/physics/
test_bsa_records.py`` keeps that loop as the reference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np

__all__ = [
    "IDENTITY_JONES",
    "ORIGIN_A",
    "ORIGIN_B",
    "ORIGIN_EITHER",
    "ORIGIN_NONE",
    "H",
    "NodeEmission",
    "Records",
    "V",
    "round_records",
]

H, V = 0, 1
_S, _OB, _XA, _XB = 0, 1, 2, 3  # internal (temporal/spectral/spatial) modes
_NINT = 4
IDENTITY_JONES: tuple[complex, complex, complex, complex] = (1.0, 0.0, 0.0, 1.0)
ORIGIN_A, ORIGIN_B, ORIGIN_EITHER, ORIGIN_NONE = 0, 1, 2, -1


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


@dataclass(frozen=True, eq=False)
class Records:
    """A round's output records, whatever the gates: Kraus operators ``kraus`` (R, 4, 4),
    ``photons`` and ``origin`` per detector (R, 4)."""

    kraus: np.ndarray
    photons: np.ndarray
    origin: np.ndarray


class _Entries:
    """One node's options as flat arrays, entry by entry in option order: ``option`` (index of
    the entry's option), ``j``/``k`` (initial/final qubit state), ``amp`` (amplitude) and
    ``photon_set`` (index into ``sets``, the distinct photon tuples in order of appearance)."""

    def __init__(self, options: list[list[_Entry]]) -> None:
        flat = [(o, *entry) for o, opt in enumerate(options) for entry in opt]
        index: dict[tuple[_Photon, ...], int] = {}
        self.sets: list[tuple[_Photon, ...]] = []
        for entry in flat:
            if entry[4] not in index:
                index[entry[4]] = len(self.sets)
                self.sets.append(entry[4])
        self.options = len(options)
        self.option = np.array([e[0] for e in flat], dtype=np.int64)
        self.j = np.array([e[1] for e in flat], dtype=np.int64)
        self.k = np.array([e[2] for e in flat], dtype=np.int64)
        self.amp = np.array([e[3] for e in flat], dtype=float)
        self.photon_set = np.array([index[e[4]] for e in flat], dtype=np.int64)


class _FockTables:
    """The output Fock states of each pair of photon sets (node A's, node B's), concatenated:
    table ``t = set_a · n_b + set_b`` holds rows ``start[t] : start[t] + size[t]``, each an
    output state with its ``key`` (an integer code of its sorted occupied modes), amplitude
    (``re``, ``im``), photons per detector ``counts`` (4,) and their origin codes ``codes`` (4,).

    The expansion of Π_p (Σ_m c_pm a†_m)|0⟩: the products of one term per photon in
    ``itertools.product`` order, each multiplied from 1 photon by photon as Python multiplies
    complex numbers ((a·c − b·d), (a·d + b·c)), summed per state from 0 in that order, the states
    in order of first appearance, times √(Π n_m!) -- Python's complex arithmetic on the same
    values, so the same amplitudes wherever they are not zero (zeros may differ in sign, which
    :func:`round_records` drops). Tables with the same number of terms per photon are expanded
    together."""

    def __init__(self, sets_a: list, sets_b: list, tables: np.ndarray) -> None:
        groups: dict[tuple[int, ...], list[tuple[int, list[list[tuple[int, complex]]]]]] = {}
        emits = np.zeros((len(sets_a) * len(sets_b), 2), dtype=bool)
        for t in tables.tolist():
            pa, pb = sets_a[t // len(sets_b)], sets_b[t % len(sets_b)]
            vecs = [_output_vector(0, pol, m) for pol, m in pa]
            vecs += [_output_vector(1, pol, m) for pol, m in pb]
            groups.setdefault(tuple(len(v) for v in vecs), []).append((t, vecs))
            emits[t] = bool(pa), bool(pb)
        parts = [_expand(shape, members) for shape, members in groups.items()]
        table = np.concatenate([q[0] for q in parts])
        by_table = np.argsort(table, kind="stable")  # each table's products stay in order
        table = table[by_table]
        code = np.concatenate([q[1] for q in parts])[by_table]
        modes = np.concatenate([q[2] for q in parts])[by_table]
        re = np.concatenate([q[3] for q in parts])[by_table]
        im = np.concatenate([q[4] for q in parts])[by_table]
        _, first, inverse = np.unique(table * _KEYS + code, return_index=True, return_inverse=True)
        by_first = np.argsort(first)
        rank = np.empty_like(by_first)
        rank[by_first] = np.arange(len(by_first))
        row = rank[inverse.ravel()]
        self.re = np.zeros(len(first))
        self.im = np.zeros(len(first))
        np.add.at(self.re, row, re)
        np.add.at(self.im, row, im)
        head = first[by_first]
        modes = modes[head]
        # √(Π_m n_m!): photon p contributes the number of photons q ≤ p in its mode
        same = (modes[:, :, None] == modes[:, None, :]) & (
            np.arange(4)[None, :] <= np.arange(4)[:, None]
        )
        same &= modes[:, :, None] < _NO_MODE
        norm = np.sqrt(np.prod(np.maximum(same.sum(axis=2), 1), axis=1).astype(float))
        self.re = self.re * norm
        self.im = self.im * norm
        self.key = code[head]
        row_table = table[head]
        self.size = np.bincount(row_table, minlength=len(emits))
        self.start = np.cumsum(self.size) - self.size
        self.counts, self.codes = _detectors(modes, emits[row_table])


_NO_MODE = 4 * _NINT  # padding of the modes of a state with fewer than 4 photons
_KEYS = (_NO_MODE + 1) ** 4  # codes of the states: Σ_p (mode_p + 1)·17^p over sorted modes


def _expand(
    shape: tuple[int, ...], members: list[tuple[int, list[list[tuple[int, complex]]]]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The products of the tables ``members`` (table, vectors), whose photons have ``shape``
    terms each: per product its table, state code, sorted modes (padded to 4 with
    ``_NO_MODE``), and amplitude's real and imaginary parts (tables in order, products in
    ``itertools.product`` order)."""
    n_tables, n_photons = len(members), len(shape)
    # (photon, product), the last photon's term fastest (one empty product without photons)
    pick = np.indices(shape).reshape(n_photons, -1) if shape else np.zeros((0, 1), np.int64)
    n_products = pick.shape[1]
    modes = np.full((n_tables, n_products, 4), _NO_MODE, dtype=np.int64)
    re = np.ones((n_tables, n_products))
    im = np.zeros((n_tables, n_products))
    for p in range(n_photons):
        terms = [vecs[p] for _, vecs in members]
        m = np.array([[mode for mode, _ in v] for v in terms], dtype=np.int64)[:, pick[p]]
        c = np.array([[complex(x) for _, x in v] for v in terms], dtype=complex)[:, pick[p]]
        modes[:, :, p] = m
        re, im = re * c.real - im * c.imag, re * c.imag + im * c.real
    modes.sort(axis=2)
    code = np.zeros((n_tables, n_products), dtype=np.int64)
    for p in range(n_photons):
        code += (modes[:, :, p] + 1) * (_NO_MODE + 1) ** p
    table = np.repeat(np.array([t for t, _ in members], dtype=np.int64), n_products)
    return table, code.ravel(), modes.reshape(-1, 4), re.ravel(), im.ravel()


def _detectors(modes: np.ndarray, emits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photons per detector (S, 4) and their origin codes (S, 4) of the states with sorted
    ``modes`` (S, 4), whose nodes A and B emit as ``emits`` (S, 2): a detector's code is its
    first photon's (lowest internal mode): A for x_A or (s, B silent), B for o_B, x_B or (s, A
    silent), else either; none without photons."""
    det, internal = modes // _NINT, modes % _NINT
    a_only = (internal == _XA) | ((internal == _S) & ~emits[:, 1:2])
    b_only = (internal == _OB) | (internal == _XB) | ((internal == _S) & ~emits[:, 0:1])
    code = np.where(a_only, ORIGIN_A, np.where(b_only, ORIGIN_B, ORIGIN_EITHER))
    counts = np.zeros((len(modes), 4), dtype=np.int64)
    origin = np.full((len(modes), 4), ORIGIN_NONE, dtype=np.int64)
    for d in range(4):
        at = det == d
        counts[:, d] = at.sum(axis=1)
        first = np.argmax(at, axis=1)
        origin[:, d] = np.where(counts[:, d] > 0, code[np.arange(len(modes)), first], ORIGIN_NONE)
    return counts, origin


@lru_cache(maxsize=64)
def round_records(em_a: NodeEmission | None, em_b: NodeEmission | None, overlap: float) -> Records:
    """The round's records (cached apart from the gates' acceptance and dark clicks, which only
    weight them: a cycle model for other gates reuses them). Read-only arrays.

    Record r is one output Fock state of one pair of options (node A's, node B's): the options'
    pairs in order, and within a pair the states in order of first appearance over its entries'
    pairs (in order) and each entry pair's Fock expansion (in :class:`_FockTables`' order). Its
    Kraus operator's element (final, initial) of entry pair (a, b) is ``0 + amp_a · amp_b · amp``
    in each part (each element of a record comes from one entry pair; were there more, they
    would add in that order); records below 1e-12 in every element are dropped."""
    ea = _Entries(_node_options(em_a, 0, overlap))
    eb = _Entries(_node_options(em_b, 1, overlap))
    # the entry pairs in product order: option of A, option of B, entry of A, entry of B
    ia, ib = (
        x.ravel() for x in np.meshgrid(np.arange(len(ea.j)), np.arange(len(eb.j)), indexing="ij")
    )
    order = np.lexsort((ib, ia, eb.option[ib], ea.option[ia]))
    ia, ib = ia[order], ib[order]
    pair_option = ea.option[ia] * eb.options + eb.option[ib]
    pair_table = ea.photon_set[ia] * len(eb.sets) + eb.photon_set[ib]
    pair_col = 4 * (2 * ea.k[ia] + eb.k[ib]) + 2 * ea.j[ia] + eb.j[ib]  # row-major (final, initial)
    pair_w = ea.amp[ia] * eb.amp[ib]
    fock = _FockTables(ea.sets, eb.sets, np.flatnonzero(np.bincount(pair_table)))
    # each entry pair's output states in order: item i is row ``pos[i]`` of the Fock tables
    size = fock.size[pair_table]
    pair = np.repeat(np.arange(len(size)), size)
    pos = (
        fock.start[pair_table][pair]
        + np.arange(len(pair))
        - np.repeat(np.cumsum(size) - size, size)
    )
    # a record is one output state of one pair of options, numbered by first appearance
    ident = pair_option[pair] * _KEYS + fock.key[pos]
    _, first, inverse = np.unique(ident, return_index=True, return_inverse=True)
    by_first = np.argsort(first)
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(len(by_first))
    value = np.empty(len(pos), dtype=complex)
    value.real = pair_w[pair] * fock.re[pos]
    value.imag = pair_w[pair] * fock.im[pos]
    elements = np.zeros((len(first), 16), dtype=complex)
    np.add.at(elements, (rank[inverse.ravel()], pair_col[pair]), value)
    kraus_all = elements.reshape(-1, 4, 4)
    keep = np.nonzero(np.abs(kraus_all).max(axis=(1, 2)) >= 1e-12)[0]
    rows = pos[first[by_first][keep]]
    kraus, photons, origin = kraus_all[keep], fock.counts[rows], fock.codes[rows]
    for arr in (kraus, photons, origin):
        arr.setflags(write=False)
    return Records(kraus, photons, origin)
