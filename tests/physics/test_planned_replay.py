# SPDX-License-Identifier: LGPL-3.0-or-later
"""A replayed deterministic window (``_advance_planned`` given the events as its plan key holds
them, ``rel``: the key and plan found by that tuple's identity) against the same window from
its absolute events: the same key noted, ions' state, temperatures, beams and coherence origins,
whatever the beams and coherences the window starts from."""

from __future__ import annotations

import numpy as np

from sim.physics.ions import bell_state
from sim.physics.lab import Lab
from sim.physics.planned import ShiftedEvents
from sim.physics.world import PhysicsWorld

#: a cooling window's beam events relative to its start: (t, node, role, level)
REL = (
    (40, 0, "cool", 1),
    (40, 1, "cool", 1),
    (3000, 0, "cool", 0),
    (3016, 1, "cool", 0),
    (3100, 0, "pump", 1),
    (3100, 1, "pump", 1),
    (4200, 0, "pump", 0),
    (4200, 1, "pump", 0),
)
LENGTH = 5000


def _world(lab: Lab) -> tuple[PhysicsWorld, list]:
    world = PhysicsWorld(lab, np.random.default_rng(3))
    noted: list = []
    note = world._note_window
    world._note_window = lambda t0, key, ops, t1, events: (  # type: ignore[method-assign]
        noted.append((t0, key, ops, t1, list(events))),
        note(t0, key, ops, t1, events),
    )
    return world, noted


def _state(world: PhysicsWorld) -> tuple:
    return (
        world.ions.rho.tobytes(),
        [th.n for th in world.ions.thermal],
        [dict(on) for on in world._on],
        list(world._coh_t0),
        world.processed_mu,
    )


#: the starts of successive windows: node A's cooling and node B's pumping on, the ions'
#: state (diagonal or a Bell state), node A's coherence origin before the window (mu) and the
#: window's length; each differs from the one before in one thing or in none (the kept plan)
STARTS = [
    (False, False, "diag", 0, LENGTH),
    (False, False, "diag", 0, LENGTH),
    (False, False, "diag", 0, LENGTH + 640),
    (True, False, "diag", 0, LENGTH + 640),
    (True, False, "bell", 0, LENGTH + 640),
    (True, False, "bell", 0, LENGTH + 640),
    (True, False, "bell", 700, LENGTH + 640),
    (True, False, "bell", 700, LENGTH),
    (True, True, "bell", 700, LENGTH),
    (True, True, "bell", 700, LENGTH),
    (True, True, "diag", 700, LENGTH),
]


def test_replayed_window_equals_plain(oxford: Lab) -> None:
    plain, noted_plain = _world(oxford)
    replay, noted_replay = _world(oxford)
    t0 = 0
    for j, (cool, pump, state, coh, length) in enumerate(STARTS):
        for world in (plain, replay):
            world._on[0]["cool"] = cool
            world._on[1]["pump"] = pump
            world.ions.rho = bell_state(+1) if state == "bell" else np.diag([0.4, 0.3, 0.2, 0.1])
            world._coh_t0 = [(t0 - coh) * world.mu_s, (t0 - 300) * world.mu_s]
        events = [(t0 + t, k, 0, role, lvl) for t, k, role, lvl in REL]
        plain._advance_planned(events, t0, t0 + length)
        replay._advance_planned(ShiftedEvents(REL, t0, False), t0, t0 + length, REL)
        assert _state(replay) == _state(plain), j
        assert noted_replay[-1] == noted_plain[-1], j
        t0 += length + 8 * (j % 3)
    assert len(replay._replay_plans) == 1  # (one tuple of events: every plan found by it)


def test_shifted_events(oxford: Lab) -> None:
    started = ((5, 0, 2, "cool", 1), (9, 1, 3, "pump", 0))
    assert list(ShiftedEvents(started, 100, True)) == [
        (105, 0, 2, "cool", 1),
        (109, 1, 3, "pump", 0),
    ]
    assert list(ShiftedEvents(REL[:2], 10, False)) == [(50, 0, 0, "cool", 1), (50, 1, 0, "cool", 1)]
