# SPDX-License-Identifier: LGPL-3.0-or-later
"""The round records enumerated as arrays (:func:`sim.physics.bsa_records.round_records`) and the
super-operators made from the non-zero rows alone (:func:`sim.physics.bsa.build_round`) are the
bits of the loop and the full product they replaced (kept in :mod:`tests.physics.bsa_reference`):
the same records in the same order (records are drawn by index against cumulative sums), the same
Kraus operators, photons, origins, weights and super-operators, so seeded runs are unchanged."""

import numpy as np
import pytest

from sim.blas import single_threaded_blas
from sim.physics.bsa import build_round
from sim.physics.bsa_records import NodeEmission, round_records
from tests.physics.bsa_reference import reference_records, reference_superops

# the presets' emissions (oxford2020, target_99_1khz, duke2024) and overlaps as their
# cycle models build them
_PRESETS = [
    (NodeEmission(0.9998986292791944, 0.00010130413620877134, 0.03511680000000001, 0.0075), 0.96),
    (NodeEmission(0.9998986292791944, 0.00010130413620877134, 0.06162432, 0.0005), 0.98999802),
    (NodeEmission(0.9875012862960454, 9.819535410849162e-05, 0.051041600000000006, 0.0075), 0.96),
]
_ROTATION = (0.8, 0.6j, 0.6j, 0.8)  # a unitary path rotation: complex Kraus operators
_REAL_ROTATION = (0.6, -0.8, 0.8, 0.6)


def _cases() -> list[tuple[NodeEmission | None, NodeEmission | None, float]]:
    cases: list[tuple[NodeEmission | None, NodeEmission | None, float]] = [
        (em, em, m) for em, m in _PRESETS
    ]
    cases += [
        (NodeEmission(0.3, 0.01, 0.2, 0.01, _ROTATION), NodeEmission(0.25, 0.02, 0.3, 0.02), 0.87),
        (
            NodeEmission(0.3, 0.01, 0.2, 0.01, _ROTATION),
            NodeEmission(0.25, 0.02, 0.3, 0.02, (0.6, 0.8j, -0.8j, -0.6)),
            0.7,
        ),
        (NodeEmission(0.5, 0.0, 1.0), None, 1.0),
        (None, NodeEmission(0.5, 0.1, 0.3, 0.0, _REAL_ROTATION), 0.0),
        (NodeEmission(0.4, 0.05, 1.0, 0.5), NodeEmission(0.4, 0.05, 0.0, 0.0), 0.5),
        (None, None, 0.9),
    ]
    g = np.random.default_rng(18)
    for _ in range(6):
        p = g.random(6)
        jones = _ROTATION if p[5] < 0.5 else (1.0, 0.0, 0.0, 1.0)
        em_a = NodeEmission(float(p[0]), float(p[1]) * 0.01, float(p[2]), float(p[3]) * 0.1, jones)
        em_b = NodeEmission(float(p[4]), 0.002, float(p[2]) * 0.5, 0.01)
        cases.append((em_a, em_b, float(g.random())))
    return cases


def _bits(a: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    return (a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes())


@pytest.mark.parametrize("case", _cases())
def test_records_are_the_loops_records_bit_for_bit(case):
    kraus, photons, origin = reference_records(*case)
    round_records.cache_clear()
    got = round_records(*case)
    assert len(kraus) > 0
    assert _bits(got.kraus) == _bits(kraus)
    assert _bits(got.photons) == _bits(photons)
    assert _bits(got.origin) == _bits(origin)
    assert not got.kraus.flags.writeable


@pytest.mark.parametrize("single_thread", [False, True])
@pytest.mark.parametrize("case", _cases()[:4] + _cases()[-2:])
def test_superops_are_the_full_products_bit_for_bit(case, single_thread):
    """Whether BLAS runs on one thread (as in a simulated run) or on the process's threads."""
    gates = [((0.9, 0.8, 0.7, 0.6), (1e-4, 3e-3, 2e-5, 1e-6)), ((0.6,) * 4, (0.0,) * 4)]
    for accept, dark in gates:
        build_round.cache_clear()
        if single_thread:
            with single_threaded_blas():
                table = build_round(*case, accept, dark)
                weights, superops = reference_superops(table.kraus, table.photons, accept, dark)
        else:
            table = build_round(*case, accept, dark)
            weights, superops = reference_superops(table.kraus, table.photons, accept, dark)
        assert _bits(table.weights) == _bits(weights)
        assert _bits(table.superops) == _bits(superops)
        assert np.count_nonzero(np.abs(superops).sum(axis=0)) < 256  # rows left out
