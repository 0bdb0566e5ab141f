# SPDX-License-Identifier: LGPL-3.0-or-later
"""The fast paths of a repeated pass (``sim.rtio.capture``) against their plain loops: the SED
lanes after the passes (:meth:`PeriodCapture._replay_lanes`, whose tail passes are derived from
the first when the period is a whole number of coarse cycles). Random periods, lane counts and
repeat counts, seeded."""

import random
from collections import deque

from sim.rtio.capture import Period, PeriodCapture, Submission


def _lanes_by_loop(eng, period, shifts, queue_first=False):
    """The lanes after ``period`` at each of ``shifts``, every tail pass event by event (the
    reference: the tree's loop before the tail passes were derived)."""
    lane, last_c, mask = eng._lane, eng._last_c, eng._lane_mask
    lane_last = eng._lane_last
    if queue_first:
        s = shifts[0]
        for t in period.nows:
            c = (t + s) & -8
            if c <= last_c:
                lane = (lane + 1) & mask
            eng._lane_q[lane].append(c)
            lane_last[lane] = last_c = c
        shifts = shifts[1:]
        if not shifts:
            eng._lane, eng._last_c = lane, last_c
            return
    nows = period.nows
    n = len(shifts)
    tail = min(n - 1, eng.lane_count)
    middle = n - tail - 1
    for i in (0, *range(max(1, n - tail), n)):
        if i == n - tail and middle > 0:
            lane = (lane + middle * period.switches) & mask
            last_c = (nows[-1] + shifts[middle]) & -8
        s = shifts[i]
        for t in nows:
            c = (t + s) & -8
            if c <= last_c:
                lane = (lane + 1) & mask
            lane_last[lane] = last_c = c
    eng._lane, eng._last_c = lane, last_c


class _Lanes(PeriodCapture):
    """Just the SED lanes' state, drawn from ``rnd``."""

    def __init__(self, rnd, lane_count):
        self.lane_count = lane_count
        self._lane_mask = lane_count - 1
        self._lane = rnd.randrange(lane_count)
        self._last_c = rnd.randrange(-100, 100) * 8
        self._lane_last = [rnd.randrange(-1000, 0) for _ in range(lane_count)]
        self._lane_q = [deque([0] * 4, maxlen=4) for _ in range(lane_count)]

    def state(self):
        return self._lane, self._last_c, self._lane_last, [list(q) for q in self._lane_q]


def _cases(n):
    rnd = random.Random(18)
    for _ in range(n):
        m = rnd.randint(1, 12)
        length = rnd.choice([rnd.randint(1, 400), 8 * rnd.randint(1, 50)])  # coarse or not
        nows = [rnd.randrange(length) for _ in range(m)]
        if rnd.random() < 0.5:
            nows.sort()
        events = tuple(Submission(t, 0, 0, 0, 0) for t in nows)
        k = rnd.choice([1, 2, 3, 5, 8, 9, 10, 17, 40])
        s0 = rnd.randrange(1000)
        yield (
            rnd.choice([1, 2, 4, 8, 16]),
            Period(0, -50, length, length - 50, events),
            range(s0, s0 + k * length, length),
            rnd.random() < 0.3,
            rnd.getrandbits(32),
        )


def test_lanes_after_repeated_passes_as_event_by_event():
    for lane_count, period, shifts, queue_first, seed in _cases(3000):
        ref = _Lanes(random.Random(seed), lane_count)
        fast = _Lanes(random.Random(seed), lane_count)
        _lanes_by_loop(ref, period, shifts, queue_first)
        fast._replay_lanes(period, shifts, queue_first)
        assert fast.state() == ref.state(), (lane_count, period.nows, shifts, queue_first)
