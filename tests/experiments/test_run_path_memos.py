# SPDX-License-Identifier: LGPL-3.0-or-later
"""The entangler run path's kept results against the plain computations they stand for.

A seeded ``repository/remote_entanglement.py`` session (Z heralds) runs with the run path as it
is, then with each kept result replaced by the computation it stands for (kept here as it was
before): the replayed windows' plan keys and plans (``PeriodTracking.replay_start`` and
``replay_period`` building the absolute events and the key), the lanes' queues of a pass made at
once (``LaneReplay._queued_lanes``, event by event), the SED lanes' signature of a call's start,
the period's channel states (``Period.states``, looked up each time), the pumping light of a
cycle law (looked up at every run) and the origin of a photon of either node
(``rng.integers``). Every dataset, the draws, the clocks, the engine's logs and lanes and the
ions' state must be the same, and the kept results must have been used.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim.physics.attempts as attempts
from sim.physics.cycle_world import EntanglerRuns
from sim.physics.period_tracking import PeriodTracking
from sim.physics.planned import PlannedWindows
from sim.rtio.capture import Period, PeriodCapture
from sim.rtio.lane_replay import LaneReplay
from tests.experiments.simhelpers import engine_state, run, simulation
from tests.rtio.test_lanes_signature import reference_lanes_signature


def _replay_start(self, sp, t_start_mu):
    mark = self._start_mark
    if mark is None or mark.now != t_start_mu or mark.windows or self._t != mark.t_world:
        return False
    events = [(t + t_start_mu, k, o, role, lvl) for t, k, o, role, lvl in sp.events]
    self._owned = [w for w in self._owned if w[1] > self._t]
    self._advance_planned(events, self._t, t_start_mu + sp.run_rel)
    return True


def _replay_period(self, sig, t_run_mu):
    t_end = self._period_end
    if (
        t_end is None
        or self._t != t_end
        or t_run_mu - t_end != sig.period_mu - sig.run_mu
        or self._staged
        or self._q_post is not None
    ):
        return False
    rel = 0
    for w_rel, key in sig.windows:
        if w_rel != rel:
            return False
        rel += key[0]
    if t_end + rel != t_run_mu:
        return False
    self._owned = [w for w in self._owned if w[1] > t_end]
    for w_rel, (length, events, _, _) in sig.windows:
        t0 = t_end + w_rel
        self._advance_planned(
            [(t0 + t, k, 0, role, lvl) for t, k, role, lvl in events], t0, t0 + length
        )
    return True


def _queued_lanes(self, nows, s, lane, last_c):
    mask, lane_last = self._lane_mask, self._lane_last
    for t in nows:
        c = (t + s) & -8
        if c <= last_c:
            lane = (lane + 1) & mask
        self._lane_q[lane].append(c)
        lane_last[lane] = last_c = c
    return lane, last_c


def _states(self, channels):
    return tuple([(ch, evs, channels[ch], evs[0][0]) for ch, evs in self.by_channel.items()])


def _session(path, lab):
    sim = simulation(path, lab=lab, seed=4)
    d = run(sim, "remote_entanglement", mode="z", heralds_per_setting=60)
    world = sim.session.world
    out = dict(
        datasets={k: repr(v) for k, v in d.items() if "wall" not in k},
        **engine_state(sim),
        world=(world.processed_mu, world._on, list(world._owned), world._coh_t0),
    )
    sim.close()
    return out


@pytest.mark.parametrize("lab", ["oxford2020", "target_99_1khz"])
def test_run_path_memos_equal_plain(tmp_path, monkeypatch, lab):
    used = {"replays": 0, "queued": 0, "pump": 0, "pick": 0}
    advance_planned = PlannedWindows._advance_planned
    queued_lanes = LaneReplay._queued_lanes
    run_pump_light = EntanglerRuns._run_pump_light
    pick_index = attempts.pick_index

    def advance_counted(self, events, t0, t1, rel=None):
        if rel is not None:
            memo = self._replay_plans.get(id(rel))
            used["replays"] += memo is not None and memo[0] is rel
        return advance_planned(self, events, t0, t1, rel)

    def queued_counted(self, nows, s, lane, last_c):
        used["queued"] += 1
        return queued_lanes(self, nows, s, lane, last_c)

    def pump_counted(self, t_mu):
        used["pump"] -= 1  # (looked up: the law's light not kept)
        return run_pump_light(self, t_mu)

    def pick_counted(rng, n):
        used["pick"] += n == 2
        return pick_index(rng, n)

    cycle_model = EntanglerRuns.cycle_model

    def cycle_model_counted(self, *args, **kwargs):
        used["pump"] += 1
        return cycle_model(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(PlannedWindows, "_advance_planned", advance_counted)
        m.setattr(LaneReplay, "_queued_lanes", queued_counted)
        m.setattr(EntanglerRuns, "_run_pump_light", pump_counted)
        m.setattr(EntanglerRuns, "cycle_model", cycle_model_counted)
        m.setattr(attempts, "pick_index", pick_counted)
        a = _session(tmp_path / "kept", lab)
    print("kept results used:", used)
    least = 50 if lab == "oxford2020" else 10  # (there most calls herald in their first pass)
    assert min(used.values()) >= least

    def cycle_model_looked_up(self, *args, **kwargs):
        self._pump_kept = None  # (the light looked up at every run)
        return cycle_model(self, *args, **kwargs)

    monkeypatch.setattr(PeriodTracking, "replay_start", _replay_start)
    monkeypatch.setattr(PeriodTracking, "replay_period", _replay_period)
    monkeypatch.setattr(LaneReplay, "_queued_lanes", _queued_lanes)
    monkeypatch.setattr(PeriodCapture, "lanes_signature", reference_lanes_signature)
    monkeypatch.setattr(Period, "states", _states)
    monkeypatch.setattr(EntanglerRuns, "cycle_model", cycle_model_looked_up)
    monkeypatch.setattr(attempts, "pick_index", lambda rng, n: int(rng.integers(n)))
    b = _session(tmp_path / "plain", lab)
    for key in a:
        assert a[key] == b[key], key
    assert np.asarray(a["ions"][1]).size == 2
