# SPDX-License-Identifier: LGPL-3.0-or-later
"""The round records and super-operators as ``sim/physics/bsa.py`` computed them up to
2026-12-02 (main at 24cea21): a loop over option pairs and entry pairs accumulating Kraus rows
as Python lists, and the super-operators as one (256 × R) @ (R × 16) product. Kept verbatim
(names aside) as the reference that :mod:`sim.physics.bsa_records` and
:func:`sim.physics.bsa.build_round` must reproduce bit for bit."""

from __future__ import annotations

import math
from itertools import chain, product
from typing import Any

import numpy as np

from sim.physics.bsa_records import (
    ORIGIN_A,
    ORIGIN_B,
    ORIGIN_EITHER,
    ORIGIN_NONE,
    H,
    NodeEmission,
    V,
)

_S, _OB, _XA, _XB = 0, 1, 2, 3
_NINT = 4
_BITS = (np.arange(16)[:, None] >> np.arange(4)) & 1


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


def reference_records(
    em_a: NodeEmission | None, em_b: NodeEmission | None, overlap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    return kraus, photons, origin


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


def reference_superops(
    kraus: np.ndarray,
    photons: np.ndarray,
    accept: tuple[float, float, float, float],
    dark: tuple[float, float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """``build_round``'s weights (R, 16) and super-operators (16, 16, 16) of the records."""
    a = np.asarray(accept, dtype=float)
    d = np.asarray(dark, dtype=float)
    pc = 1.0 - (1.0 - d) * (1.0 - a) ** photons  # (R, 4)
    # weights[r, p] = Π_i (pc[r, i] if bit i of p else 1 − pc[r, i]), multiplied in order of i
    qc = 1.0 - pc
    weights = np.ones((len(pc), 16))
    for i in range(4):
        weights = weights * np.where(_BITS[:, i] == 1, pc[:, i : i + 1], qc[:, i : i + 1])
    # superops[p, (k, l), (j, m)] = Σ_r w[r, p] K_r[k, j] K_r*[l, m]  (one matrix product)
    # (K_r[k, j] K_r*[l, m] laid out with r last: the products run along the records, not along
    # 4-element rows, twice as fast as the records-first layout, the same bits)
    kt = np.ascontiguousarray(kraus.transpose(1, 2, 0))  # (k, j, r)
    kk = (kt[:, None, :, None, :] * kt.conj()[None, :, None, :, :]).reshape(256, len(kraus))
    superops = np.ascontiguousarray((kk @ weights).T).reshape(16, 16, 16)
    return weights, superops
