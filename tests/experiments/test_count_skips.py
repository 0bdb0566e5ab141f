# SPDX-License-Identifier: LGPL-3.0-or-later
"""A count asks its PHY again only when the worlds may give an edge or do work
(``InputChannel.waiting``, ``PhysicsWorld.quiet_until``): seeded Z heralds give the same
datasets, clocks and world state as with every question asked."""

import numpy as np

from sim.rtio.phy.ttl_input import TTLInputPhy
from tests.experiments.simhelpers import run, simulation

WALL = {"herald.t_wall", "totals.wall_time_s", "totals.loop_time_s"}


def _session(tmp_path):
    sim = simulation(tmp_path, lab="oxford2020", seed=7)
    d = run(sim, "remote_entanglement", mode="z", heralds_per_setting=8)
    eng = sim.session.engine
    world = sim.session.world
    out = {k: np.asarray(v).tolist() for k, v in d.items() if k not in WALL}
    out["engine"] = (eng.counter, eng.now, world.processed_mu)
    out["rng"] = repr(world.rng.bit_generator.state)
    out["clicks"] = [vars(c.save_state()) for c in world._channels.values()]
    return out


def test_counts_skip_only_questions_with_no_answer(tmp_path, monkeypatch):
    asked = []
    quiet = TTLInputPhy.quiet_until

    def counting(self, t_need):
        asked.append(t_need)
        return quiet(self, t_need)

    monkeypatch.setattr(TTLInputPhy, "quiet_until", counting)
    fast = _session(tmp_path / "fast")
    assert asked  # the skip was tried
    # a PHY that cannot tell when it is quiet: every question asked
    monkeypatch.setattr(TTLInputPhy, "quiet_until", lambda self, t_need: -(1 << 62))
    assert _session(tmp_path / "all") == fast
    assert sum(fast["herald.counts_a"]) + sum(fast["herald.counts_b"]) > 50  # bright readouts
