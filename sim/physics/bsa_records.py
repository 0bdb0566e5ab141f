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
    output state (``key``: its index in ``keys``) with its amplitude ``amp`` (from
    :func:`_fock`, the same values and order), its photons per detector ``counts`` (4,) and their
    origin codes ``codes`` (4,)."""

    def __init__(self, sets_a: list, sets_b: list, tables: np.ndarray) -> None:
        n = len(sets_a) * len(sets_b)
        self.start = np.zeros(n, dtype=np.int64)
        self.size = np.zeros(n, dtype=np.int64)
        self.keys: dict[tuple[int, ...], int] = {}
        key_ids: list[int] = []
        amps: list[complex] = []
        codes: list[list[int]] = []
        counts: list[list[int]] = []
        for t in tables.tolist():
            pa, pb = sets_a[t // len(sets_b)], sets_b[t % len(sets_b)]
            vecs = [_output_vector(0, pol, m) for pol, m in pa]
            vecs += [_output_vector(1, pol, m) for pol, m in pb]
            fock = _fock(vecs)
            self.start[t], self.size[t] = len(amps), len(fock)
            for key, amp in fock.items():
                key_ids.append(self.keys.setdefault(key, len(self.keys)))
                amps.append(amp)
                codes.append(_origin_codes(key, bool(pa), bool(pb)))
                n_det = [0] * 4
                for mode in key:
                    n_det[mode // _NINT] += 1
                counts.append(n_det)
        self.key = np.array(key_ids, dtype=np.int64)
        self.amp = np.array(amps, dtype=complex)
        self.codes = np.array(codes, dtype=np.int64).reshape(-1, 4)
        self.counts = np.array(counts, dtype=np.int64).reshape(-1, 4)


@lru_cache(maxsize=64)
def round_records(em_a: NodeEmission | None, em_b: NodeEmission | None, overlap: float) -> Records:
    """The round's records (cached apart from the gates' acceptance and dark clicks, which only
    weight them: a cycle model for other gates reuses them). Read-only arrays.

    Record r is one output Fock state of one pair of options (node A's, node B's): the options'
    pairs in order, and within a pair the states in order of first appearance over its entries'
    pairs (in order) and each entry pair's Fock expansion (in :func:`_fock`'s order). Its Kraus
    operator's element (final, initial) of entry pair (a, b) is ``0j + amp_a · amp_b · amp``
    (each element of a record comes from one entry pair; were there more, they would add in
    that order); records below 1e-12 in every element are dropped."""
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
    fock = _FockTables(ea.sets, eb.sets, np.unique(pair_table))
    # each entry pair's output states in order: item i is row ``pos[i]`` of the Fock tables
    size = fock.size[pair_table]
    pair = np.repeat(np.arange(len(size)), size)
    pos = (
        fock.start[pair_table][pair]
        + np.arange(len(pair))
        - np.repeat(np.cumsum(size) - size, size)
    )
    # a record is one output state of one pair of options, numbered by first appearance
    ident = pair_option[pair] * max(len(fock.keys), 1) + fock.key[pos]
    _, first, inverse = np.unique(ident, return_index=True, return_inverse=True)
    by_first = np.argsort(first)
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(len(by_first))
    amp = fock.amp[pos]
    value = np.empty(len(pos), dtype=complex)
    value.real = pair_w[pair] * amp.real
    value.imag = pair_w[pair] * amp.imag
    elements = np.zeros((len(first), 16), dtype=complex)
    np.add.at(elements, (rank[inverse.ravel()], pair_col[pair]), value)
    kraus_all = elements.reshape(-1, 4, 4)
    keep = np.nonzero(np.abs(kraus_all).max(axis=(1, 2)) >= 1e-12)[0]
    rows = pos[first[by_first][keep]]
    kraus, photons, origin = kraus_all[keep], fock.counts[rows], fock.codes[rows]
    for arr in (kraus, photons, origin):
        arr.setflags(write=False)
    return Records(kraus, photons, origin)


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
