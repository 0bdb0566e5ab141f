# SPDX-License-Identifier: LGPL-3.0-or-later
"""``PeriodCapture.lanes_signature`` (one comprehension over the lanes) against the loop it
replaced, on random SED lane states: lanes with events still waiting (after the counter), lanes
whose last event is past, the current lane anywhere."""

from __future__ import annotations

import random
from collections import deque

from sim.rtio.engine import RTIOEngine


def reference_lanes_signature(eng: RTIOEngine) -> tuple:
    """The loop ``lanes_signature`` replaced (also the plain path of test_run_path_memos)."""
    now, counter = eng.now, eng.counter
    lanes = []
    first = eng._lane
    queues = eng._lane_q[first:] + eng._lane_q[:first]
    lasts = eng._lane_last[first:] + eng._lane_last[:first]
    for q, last in zip(queues, lasts):
        waiting: tuple = ()
        if q and q[-1] > counter:
            found = []
            j = len(q) - 1
            while j >= 0 and q[j] > counter:
                found.append((j, q[j] - now))
                j -= 1
            waiting = tuple(found)
        lanes.append((last - now if last > counter else None, waiting))
    return (eng._last_c - now if eng._last_c > counter else None, tuple(lanes))


def test_lanes_signature_equals_loop() -> None:
    rnd = random.Random(5)
    eng = RTIOEngine()
    waiting = 0
    for _ in range(500):
        counter = rnd.randrange(0, 10_000) * 8
        eng.counter = counter
        eng.now = counter + rnd.randrange(-50, 5_000)
        for i in range(eng.lane_count):
            q = deque(maxlen=eng.lane_depth)
            t = counter - rnd.randrange(0, 400) * 8
            for _ in range(rnd.randrange(0, 6)):
                t += rnd.randrange(1, 80) * 8
                q.append(t)
            eng._lane_q[i] = q
            eng._lane_last[i] = q[-1] if q else counter - 8 * rnd.randrange(0, 50)
        eng._lane = rnd.randrange(eng.lane_count)
        eng._last_c = max(eng._lane_last)
        sig = eng.lanes_signature()
        assert sig == reference_lanes_signature(eng)
        waiting += any(w for _, w in sig[1])
    assert waiting > 100
