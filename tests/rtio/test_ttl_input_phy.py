# SPDX-License-Identifier: LGPL-3.0-or-later
"""The TTL input PHY's gate boundaries, edge by edge: a sensitivity change at ``t`` applies to
the edges from ``t + GATE_OFFSET_MU`` on (an edge at exactly that time is under the new
sensitivity), a sample reports the level of the edges before it, at most one event per coarse
cycle; whether the edges come in one query or a query per edge."""

import pytest

from sim.rtio.phy.ttl import GATE_OFFSET_MU, INPUT_ARRIVAL_MU
from sim.rtio.phy.ttl_input import TTLInputPhy


class _Engine:
    """The two engine calls the PHY makes: the world's edges and the channel's controls."""

    def __init__(self, edges, controls):
        self.edges = sorted(edges)
        self.controls = controls  # (timestamp, address, data), time-ordered

    def world_edges(self, channel, t_end):
        out = [e for e in self.edges if e[0] < t_end]
        self.edges = [e for e in self.edges if e[0] >= t_end]
        return out

    def resolved(self, channel):
        return self.controls


G = GATE_OFFSET_MU
# a rising gate [1000, 2000), a sample at 3000, then a falling-and-rising gate from 4000
CONTROLS = [(1000, 2, 1), (2000, 2, 0), (3000, 3, 0), (4000, 2, 3)]
EDGES = [
    (1000 + G - 1, 1),  # rising, one mu before the gate applies: not registered
    (1000 + G + 4, 0),
    (1000 + G + 8, 1),  # rising, inside: registered
    (1000 + G + 9, 0),
    (1000 + G + 16, 1),  # the next coarse cycle: registered
    (2000 + G - 3, 0),
    (2000 + G, 1),  # rising exactly when the gate closes: not registered
    (3000 + G, 0),  # at the sample's time: after the sample (which sees level 1)
    (4000 + G, 1),  # exactly when the both-edges gate applies: registered
    (4000 + G + 2, 0),  # same coarse cycle as the previous one: dropped
    (4000 + G + 8, 1),
]
WANT = [
    (1000 + G + 8, 1),
    (1000 + G + 16, 1),
    (3000 + G, 1),  # the sample
    (4000 + G, 1),
    (4000 + G + 8, 1),
]


@pytest.mark.parametrize("step", [None, 1, 7, 40])
def test_gate_boundaries_edge_by_edge(step):
    phy = TTLInputPhy(_Engine(EDGES, CONTROLS), 0)
    t_last = 6000
    ends = [t_last] if step is None else list(range(900, t_last, step)) + [t_last]
    events = []
    for t_end in ends:
        events.extend(phy.input_events(t_end))
    assert [(ts, lvl) for _, ts, lvl in events] == WANT
    assert all(arrival == ts + INPUT_ARRIVAL_MU for arrival, ts, _ in events)


@pytest.mark.parametrize("seed", range(4))
def test_many_gates_without_edges_at_once(seed):
    """Runs of gate controls with no edge among them (a fast-forward's skipped attempts) are
    applied at once: the same events as the control-by-control loop (the reference: the PHY
    told its edges may be out of order), with samples among the gates and edges at and next
    to the gate boundaries."""
    import random

    rnd = random.Random(seed)
    controls, edges, t = [], [], 1000
    for _ in range(300):
        t += rnd.choice((8, 16, 40, 400))
        kind = rnd.random()
        if kind < 0.1:
            controls.append((t, 3, 0))  # a sample
        elif kind < 0.15:
            controls.append((t, 1, 0))  # output enable (not a gate control)
        else:
            controls.append((t, 2, rnd.choice((0, 1, 2, 3))))
        if rnd.random() < 0.2:  # an edge at, just before or just after the control applies
            edges.append((t + G + rnd.choice((-1, 0, 1, 5)), rnd.choice((0, 1))))
    edges = sorted(set(edges))
    t_last = t + 1000
    ends = sorted(rnd.sample(range(900, t_last), 25)) + [t_last]
    out = {}
    for ordered in (True, False):
        phy = TTLInputPhy(_Engine(edges, controls), 0)
        phy.ordered = ordered
        out[ordered] = [e for t_end in ends for e in phy.input_events(t_end)]
    assert out[True] == out[False]
    assert len(out[True]) > 10


@pytest.mark.parametrize("seed", range(3))
def test_final_levels_of_long_logs(seed):
    """``LevelView.final`` (the hardware state at an experiment's end) finds the last output
    and output enable of a long log (an input's thousands of gates after its one enable) as
    walking the log back entry by entry does, for logs partly turned into levels already."""
    import random
    from types import SimpleNamespace

    from sim.rtio.channels import Kind
    from sim.rtio.phy.ttl import LevelView

    rnd = random.Random(seed)
    for _ in range(60):
        n = rnd.choice((3, 70, 300))
        weights = rnd.choice(((1, 1, 1, 1), (0.02, 0.02, 1, 0.1), (0, 0, 1, 0)))
        res = [(t, rnd.choices(range(4), weights)[0], rnd.randint(0, 1)) for t in range(n)]
        for kind in (Kind.TTL_INOUT, Kind.TTL_OUT):
            view = LevelView(SimpleNamespace(kind=kind))
            view.idx, view.o, view.oe = rnd.randint(0, n + 2), rnd.randint(0, 1), 1
            if view.idx < n and rnd.random() < 0.5:  # the first entry left: an enable, say
                res[view.idx] = (view.idx, rnd.randint(0, 1), rnd.randint(0, 1))
            o, oe = view.o, view.oe
            for _, addr, data in res[view.idx :]:  # the reference: every entry in order
                if addr == 0:
                    o = data
                elif addr == 1 and kind == Kind.TTL_INOUT:
                    oe = data
            assert view.final(res) == (o, oe, o & oe)
