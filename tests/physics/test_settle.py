# SPDX-License-Identifier: LGPL-3.0-or-later
"""``PhysicsWorld.settle``: the beam outputs played up to a time made physics at once (a CPU
heralding call's start after a cooling) leave the world where advancing over them later does."""

from __future__ import annotations

import numpy as np

from sim.physics.lab import Lab
from sim.physics.world import PhysicsWorld

from .conftest import DEVICES, FakeView, modify

DET_CH = [DEVICES[f"bsa_det{i}"][1] for i in range(4)]
T_COOL_END = 21_000  # mu


def _run(lab: Lab, settle: bool) -> tuple:
    rng = np.random.default_rng(11)
    view = FakeView(rng)
    world = PhysicsWorld(lab, rng)
    world.attach(view)
    for node in "ab":
        view.pulse(f"node_{node}.cool_sw", 1_000, T_COOL_END - 1_000)
    if settle:
        assert world.settle(T_COOL_END)
        assert world.processed_mu == T_COOL_END
        assert not world._on[0]["cool"] and not world._on[1]["cool"]
    # attempts from the cursor at the cooling's end: the first pump starts with it
    for j in range(200):
        t0 = T_COOL_END + 1_000 * j
        for node in "ab":
            view.pulse(f"node_{node}.pump_sw", t0, 200)
            view.pulse(f"node_{node}.excite", t0 + 300, 8)
    edges = [world.input_edges(ch, T_COOL_END + 200_000) for ch in DET_CH]
    return edges, [th.n for th in world.ions.thermal], world.rho, world.processed_mu


def test_settle_then_advance_is_advance(oxford: Lab) -> None:
    """Settled at the cooling's end, then played on (the first pump at that very time): the
    same clicks, processed time and ions' temperature (the same segments), the same state to
    rounding (one superoperator for the settled window)."""
    lab = modify(oxford, **{"bsa__detectors__*__efficiency": 1.0})
    edges0, n0, rho0, t0 = _run(lab, False)
    edges1, n1, rho1, t1 = _run(lab, True)
    assert sum(len(e) for e in edges0) > 10
    assert edges1 == edges0
    assert (n1, t1) == (n0, t0)
    assert np.allclose(rho1, rho0, atol=1e-12)


def test_settle_leaves_what_is_not_cooling_or_pumping(oxford: Lab) -> None:
    """An excitation among the outputs to settle: nothing is done (False)."""
    rng = np.random.default_rng(3)
    view = FakeView(rng)
    world = PhysicsWorld(oxford, rng)
    world.attach(view)
    view.pulse("node_a.cool_sw", 0, 5_000)
    view.pulse("node_a.excite", 6_000, 8)
    assert not world.settle(7_000)
    assert world.processed_mu == 0
    assert world.settle(5_500)  # (the cooling alone)
    assert world.processed_mu == 5_000
