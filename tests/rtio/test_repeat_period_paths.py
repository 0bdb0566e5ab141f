# SPDX-License-Identifier: LGPL-3.0-or-later
"""The fast paths of a repeated pass (``sim.rtio.capture``) against their plain loops: the SED
lanes after the passes (:meth:`PeriodCapture.replay_lanes`, whose tail passes are derived from
the first when the period is a whole number of coarse cycles, and kept), the lanes' signature,
a TTL level view's repeated transitions. Random periods, lane counts and repeat counts,
seeded."""

import random
from collections import deque

from sim.rtio.capture import Period, PeriodCapture, Submission
from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.ttl import LevelView


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

    def __init__(self, rnd, lane_count, offset=0):
        self._init_capture()
        self.tail_calls = 0
        self.lane_count = lane_count
        self._lane_mask = lane_count - 1
        self._lane = rnd.randrange(lane_count)
        self._last_c = rnd.randrange(-100, 100) * 8 + offset
        self._lane_last = [rnd.randrange(-1000, 0) + offset for _ in range(lane_count)]
        self._lane_q = [deque([offset] * 4, maxlen=4) for _ in range(lane_count)]

    def _tail_lanes(self, *args):
        self.tail_calls += 1
        return super()._tail_lanes(*args)

    def reset(self, rnd, offset=0):
        """The state drawn from ``rnd``, every time ``offset`` mu later; the memo kept."""
        tails, firsts, calls = self._tails, self._firsts, self.tail_calls
        self.__init__(rnd, self.lane_count, offset)
        self._tails, self._firsts, self.tail_calls = tails, firsts, calls

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
    """Each case also again on one engine, from the same state and passes later in time (by a
    whole number of coarse cycles or not) and from other states, with fewer passes: its tails
    as kept, or made again."""
    engines: dict[int, _Lanes] = {}
    hits = 0
    for lane_count, period, shifts, queue_first, seed in _cases(1200):
        fast = engines.setdefault(lane_count, _Lanes(random.Random(0), lane_count))
        offsets = (0, 8 * (seed % 1000), 8 * (seed % 1000) + seed % 7, 0, 8)
        for offset, other in zip(offsets, (0, 0, 0, 1, 2)):
            ref = _Lanes(random.Random(seed + other), lane_count, offset)
            fast.reset(random.Random(seed + other), offset)
            passes = len(shifts) if other < 2 else 1 + len(shifts) // 3  # (and fewer passes)
            moved = range(shifts.start + offset, shifts[passes - 1] + offset + 1, shifts.step)
            _lanes_by_loop(ref, period, moved, queue_first)
            kept, calls = len(fast._tails), fast.tail_calls
            fast.replay_lanes(period, moved, queue_first)
            hits += fast.tail_calls > calls and len(fast._tails) == kept
            assert fast.state() == ref.state(), (lane_count, period.nows, moved, queue_first)
    assert hits > 400, hits  # (tails taken as kept)


def _lanes_signature_by_loop(eng):
    """The lanes' signature lane by lane (the reference: the tree's loop before the lanes were
    taken in order at once)."""
    now, counter = eng.now, eng.counter
    lanes = []
    for i in range(eng.lane_count):
        lane = (eng._lane + i) & eng._lane_mask
        q = eng._lane_q[lane]
        waiting = []
        j = len(q) - 1
        while j >= 0 and q[j] > counter:
            waiting.append((j, q[j] - now))
            j -= 1
        last = eng._lane_last[lane]
        lanes.append((last - now if last > counter else None, tuple(waiting)))
    return (eng._last_c - now if eng._last_c > counter else None, tuple(lanes))


def test_lanes_signature_as_lane_by_lane():
    rnd = random.Random(7)
    waited = 0
    for _ in range(2000):
        eng = _Lanes(rnd, rnd.choice([1, 2, 4, 8, 16]))
        eng.now = rnd.randrange(-200, 400)
        eng.counter = eng.now - rnd.randrange(0, 300)
        for q in eng._lane_q:  # (in time order, some after the counter)
            q.extend(sorted(rnd.randrange(-800, 400) for _ in range(rnd.randrange(5))))
        sig = eng.lanes_signature()
        waited += any(w for _, w in sig[1])
        assert sig == _lanes_signature_by_loop(eng)
    assert waited > 500


def test_level_view_repeat_as_walked():
    """A TTL level view given a pass's transitions again (:meth:`LevelView.repeat`, which keeps
    those of the pass it last repeated, and takes their times from the logged ones if given)
    holds what walking the log gives, pass after pass, from whatever state each repeat finds,
    also when the view has not walked the submissions logged since (passes run in detail that
    nobody read by level: the repeat turns them into levels first)."""
    rnd = random.Random(3)
    kept = caught_up = 0
    for kind in (Kind.TTL_OUT, Kind.TTL_INOUT) * 150:
        st = ChannelState(0, kind=kind)
        view, ref = LevelView(st), LevelView(st)
        passes = []
        for _ in range(3):
            m = rnd.randint(1, 6)
            ts = sorted(rnd.sample(range(0, 400), m))
            passes.append([(t, rnd.choice((0, 0, 1)), rnd.getrandbits(1)) for t in ts])
        t0 = 0
        for _ in range(12):
            evs = rnd.choice(passes)
            shifts = range(t0, t0 + rnd.randint(1, 5) * 400, 400)
            if rnd.random() < 0.3:  # a pass in detail, logged one by one and not read
                st.raw.extend([(t + t0, a, d) for t, a, d in rnd.choice(passes)])
                t0 += 400
                shifts = range(t0, t0 + rnd.randint(1, 5) * 400, 400)
            n_before = len(st.raw)
            if rnd.random() < 0.5:
                view.levels(t0 - 1, t0)  # (turned into levels up to here)
            caught_up += view.idx < n_before
            st.raw.extend([(t + s, a, d) for s in shifts for t, a, d in evs])
            had = next((h for h in view._passes.values() if h[0] is evs), None)
            times = [t + s for s in shifts for t, _, _ in evs] if rnd.random() < 0.5 else None
            view.repeat(evs, shifts, n_before, times)
            kept += had is not None and had[0] is evs and view.idx == len(st.raw)
            t0 = shifts[-1] + 400 + rnd.choice((0, 8))
        end = t0 + 1
        assert view.levels(-1, end) == ref.levels(-1, end)
        assert (view.o, view.oe, view.level) == (ref.o, ref.oe, ref.level)
    assert kept > 300 and caught_up > 300


def _runs(rnd, length):
    """Runs ``(first shift, passes, step)`` as a CPU block makes them: passes of ``length``
    and longer ones (a click's), the last run evenly spaced or not."""
    runs, s = [], rnd.randrange(1000)
    for _ in range(rnd.randint(1, 6)):
        k = rnd.choice([1, 1, 2, 3, 9, 12])
        step = length if rnd.random() < 0.7 else length + rnd.choice([8, 16, 3, 80])
        runs.append((s, k, step))
        s += k * step + rnd.choice([0, 0, 8, 24, 5])
    return runs


def test_lanes_after_passes_at_listed_shifts_as_event_by_event():
    """Shifts that are not a range (a CPU block's passes: :class:`~sim.rtio.repeat_at.Shifts`,
    or a plain list): the first pass and the evenly spaced end made as kept
    (:meth:`PeriodCapture._first_lanes`, :meth:`PeriodCapture._tail_lanes`), from the same
    states again later in time, the same lanes as event by event."""
    from sim.rtio.lane_replay import even_end
    from sim.rtio.repeat_at import Shifts

    rnd = random.Random(5)
    engines: dict[int, _Lanes] = {}
    firsts = tails = 0
    for lane_count, period, _, _, seed in _cases(800):
        fast = engines.setdefault(lane_count, _Lanes(random.Random(0), lane_count))
        runs = _runs(rnd, period.length)
        listed = Shifts(runs)
        assert list(listed) == [s for a, k, st in runs for s in range(a, a + k * st, st)]
        assert [listed[i] for i in range(-len(listed), len(listed))] == list(listed) * 2
        lo = max(1, len(listed) - lane_count)
        assert even_end(listed, lo)[0] >= even_end(list(listed), lo)[0]
        for offset, other in ((0, 0), (8 * (seed % 1000), 0), (0, 1)):
            moved = Shifts([(a + offset, k, st) for a, k, st in runs])
            for shifts in (moved, list(moved)):
                ref = _Lanes(random.Random(seed + other), lane_count, offset)
                fast.reset(random.Random(seed + other), offset)
                _lanes_by_loop(ref, period, list(shifts))
                kept_f, kept_t, calls = len(fast._firsts), len(fast._tails), fast.tail_calls
                fast.replay_lanes(period, shifts)
                firsts += len(fast._firsts) == kept_f
                tails += fast.tail_calls > calls and len(fast._tails) == kept_t
                assert fast.state() == ref.state(), (lane_count, period.nows, runs, offset)
    assert firsts > 1500 and tails > 300, (firsts, tails)
