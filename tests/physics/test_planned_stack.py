# SPDX-License-Identifier: LGPL-3.0-or-later
"""``PlannedWindows._plan`` steps the basis matrices as one stack: the superoperator and every
other part of the plan are bit for bit those of stepping each matrix alone (the plan before the
stack, kept here as the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.physics.beam_rf import beam_level
from sim.physics.lab import Lab
from sim.physics.planned import LINEAR_ROLES, linear_step, thermal_steps
from sim.physics.world import PhysicsWorld

from .conftest import modify


def _reference_plan(world: PhysicsWorld, events: list, t0: int, t1: int, offs) -> tuple:
    """The plan with each basis matrix stepped alone (the code the stack replaced)."""
    mu = world.mu_s
    coherent = offs is not None
    cols = range(16) if coherent else (0, 5, 10, 15)
    basis = np.eye(16, dtype=complex).reshape(16, 4, 4)
    stack = [basis[c] for c in cols]
    on = [dict(o) for o in world._on]
    coh = [(t0 - offs[k]) * mu if coherent else 0.0 for k in range(2)]
    coh_rel: list = [None, None]
    thermal_ops: list = []
    t_prev = t0
    for t, k_ev, _, role, lvl in events + [(t1, -1, 0, "", 0)]:
        if k_ev >= 0 and on[k_ev][role] == beam_level(lvl):
            continue
        if t > t_prev:
            dt = (t - t_prev) * mu
            for k, node in enumerate(world.lab.nodes):
                stack = [
                    linear_step(m, k, node, on[k], t_prev * mu, t * mu, coh[k], coherent)
                    for m in stack
                ]
                cool = on[k]["cool"]
                thermal_ops.append((k, bool(cool), dt * cool if cool else dt))
                if on[k]["pump"]:
                    coh[k] = t * mu
                    coh_rel[k] = t - t0
            t_prev = t
        if k_ev >= 0:
            on[k_ev][role] = beam_level(lvl)
    sop = np.zeros((16, 16), dtype=complex)
    for c, m in zip(cols, stack):
        sop[:, c] = m.reshape(16)
    final_on = tuple((k, {r: on[k][r] for r in LINEAR_ROLES}) for k in range(2))
    return sop, thermal_ops, coh_rel, final_on, thermal_steps(world.ions.thermal, thermal_ops)


def _windows(rng: np.random.Generator, n: int) -> list[tuple[list, int, int]]:
    """Random deterministic windows: cooling, repumping and pumping switched on and off at
    random times, at full light or at a light level."""
    out = []
    for _ in range(n):
        t0 = int(rng.integers(0, 10**6))
        t, events = t0, []
        for _ in range(int(rng.integers(1, 12))):
            t += int(rng.integers(0, 3000))
            lvl = float(rng.choice([0.0, 1.0, 1.0, round(float(rng.uniform(0.05, 0.95)), 3)]))
            events.append((t, int(rng.integers(0, 2)), 0, str(rng.choice(LINEAR_ROLES)), lvl))
        out.append((events, t0, t + int(rng.integers(1, 5000))))
    return out


@pytest.mark.parametrize("dephasing", ["exponential", "gaussian"])
def test_stacked_plan_is_each_matrix_alone(oxford: Lab, dephasing: str) -> None:
    """Every part of 150 random windows' plans, coherent (with coherence origins) and for
    diagonal states, equal to the reference's: the superoperator's bytes, the thermal ops and
    steps, the pump-reset origins, the final beams."""
    world = PhysicsWorld(
        modify(oxford, **{"nodes__*__dephasing": dephasing}), np.random.default_rng(5)
    )
    rng = np.random.default_rng(17)
    for events, t0, t1 in _windows(rng, 150):
        for offs in (None, (int(rng.integers(0, 5000)), int(rng.integers(0, 5000)))):
            got = world._plan(events, t0, t1, offs)
            ref = _reference_plan(world, events, t0, t1, offs)
            assert got[0].tobytes() == ref[0].tobytes()
            assert got[1:] == ref[1:]
