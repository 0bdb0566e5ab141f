# SPDX-License-Identifier: LGPL-3.0-or-later
"""The TTL input PHY's gate boundaries, edge by edge: a sensitivity change at ``t`` applies to
the edges from ``t + GATE_OFFSET_MU`` on (an edge at exactly that time is under the new
sensitivity), a sample reports the level of the edges before it, at most one event per coarse
cycle; whether the edges come in one query or a query per edge."""

import pytest

from sim.rtio.phy.ttl import GATE_OFFSET_MU, INPUT_ARRIVAL_MU, TTLInputPhy


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
