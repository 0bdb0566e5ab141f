# SPDX-License-Identifier: LGPL-3.0-or-later
"""TTL PHY (``artiq/gateware/rtio/phy/ttl_serdes_generic.py``, driver ``artiq/coredevice/ttl.py``).

Output addresses: 0 level, 1 output enable (TTLInOut), 2 input sensitivity, 3 sensitivity + sample.
Sensitivity bits: bit0 rising, bit1 falling.

Input side: :class:`~sim.rtio.phy.ttl_input.TTLInputPhy`, with these latencies:

* A sensitivity change submitted at output timestamp ``t`` applies to input edges whose timestamp is
  ``>= t + GATE_OFFSET_MU`` (88 mu = ``lat_offset`` of ``test_rtio.py::LoopbackGateTiming``: an edge
  is registered iff ``gate_start <= t_in - 88 < gate_end``), so a gate is the half-open window
  [start, end).
* At most one edge event per coarse cycle (the input deserializer's priority encoder keeps the
  first).
* A sample request at ``t`` produces one event, timestamp ``t + 88``, data = input level.
* An event is in the FIFO ``INPUT_ARRIVAL_MU`` after its timestamp, well within ``gate_latency_mu``
  (104 mu) after the gate end, which is what ``TTLInOut.count`` relies on.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress, cycle
from operator import itemgetter

import numpy

from sim.rtio.channels import ChannelState, Kind

__all__ = [
    "BULK_MIN",
    "GATE_OFFSET_MU",
    "INPUT_ARRIVAL_MU",
    "LevelView",
    "TTLOutPhy",
    "walk_bulk",
    "walk_each",
]

GATE_OFFSET_MU = 88
INPUT_ARRIVAL_MU = 16
_NEG = -(1 << 62)
#: an event's ``(timestamp, data)`` as the log keeps it (one C call per event)
_TS_DATA = itemgetter(1, 2)


class TTLOutPhy:
    """Output-only TTL PHY: nothing happens immediately; levels are resolved lazily."""


class LevelView:
    """Incrementally built output-level transitions ``(t, level)`` of a TTL-like channel."""

    def __init__(self, st: ChannelState) -> None:
        self.st = st
        self.t: list[int] = []
        self.lv: list[int] = []
        self.idx = 0
        self.o = 0
        self.oe = 0 if st.kind == Kind.TTL_INOUT else 1
        self.level = 0
        self.gen = None
        #: :meth:`repeat`'s passes by their submissions' list (by identity) and start state:
        #: ``(events, account or None)`` (:meth:`_pass_levels`; a loop alternates a few)
        self._passes: dict[tuple, tuple] = {}
        if st.kind == Kind.CLKGEN:
            from sim.rtio.phy.clockgen import ClockGenLevels

            self.gen = ClockGenLevels(st)

    def levels(self, t_from: int, t_to: int) -> list[tuple[int, int]]:
        if self.gen is not None:
            return self.gen.levels(t_from, t_to)
        st = self.st
        if st.flagged or self.idx < len(st.log):  # submissions not turned into levels yet
            self._advance(t_to)
        t = self.t
        if not t or t[-1] < t_from:
            return []
        i = bisect_left(t, t_from)
        j = len(t) if t[-1] < t_to else bisect_left(t, t_to, i)
        return list(zip(t[i:j], self.lv[i:j]))

    def level_at(self, t_mu: int) -> int:
        """The level at ``t_mu``, its changes at ``t_mu`` made (0 before the first)."""
        if self.gen is not None:
            levels = self.gen.levels(_NEG, t_mu + 1)
            return levels[-1][1] if levels else 0
        if self.st.flagged or self.idx < len(self.st.log):
            self._advance(t_mu + 1)
        i = bisect_right(self.t, t_mu)
        return self.lv[i - 1] if i else 0

    def columns(self, t_from: int, t_to: int) -> tuple[list[int], list[int]]:
        """:meth:`levels` as two lists, the transitions' times and their levels (no tuple per
        transition: a waveform file's whole run)."""
        if self.gen is not None:
            pairs = self.gen.levels(t_from, t_to)
            return [p[0] for p in pairs], [p[1] for p in pairs]
        st = self.st
        if st.flagged or self.idx < len(st.log):  # submissions not turned into levels yet
            self._advance(t_to)
        t = self.t
        if not t or t[-1] < t_from:
            return [], []
        i = bisect_left(t, t_from)
        j = len(t) if t[-1] < t_to else bisect_left(t, t_to, i)
        return t[i:j], self.lv[i:j]

    def quiet_since(self, t_from: int) -> bool:
        """True when every submission is turned into levels and none changes at or after
        ``t_from`` (the common case for a beam between its pulses): no work to do."""
        st = self.st
        t = self.t
        return (
            self.gen is None
            and not st.flagged
            and self.idx >= len(st.log)
            and (not t or t[-1] < t_from)
        )

    def repeat(
        self,
        events: list[tuple[int, int, int]],
        shifts: Sequence[int],
        n_before: int,
        times: list[int] | None = None,
    ) -> None:
        """The channel's submissions ``events`` were just logged again at each of ``shifts``
        (after ``n_before`` entries; ``times``, if given, their timestamps as logged, pass by
        pass): the earlier ones not yet turned into levels are turned now (the passes run in
        detail since the last repeat: a view nobody reads, such as a detector's, would otherwise
        walk every repeated pass's gates when its history is retired); if one pass of
        ``events`` leaves the view as it found it, add the passes' transitions at once
        (otherwise they are turned into levels lazily, as always). The transitions of the pass
        last repeated are kept (a loop repeats the same pass, the same list, from the same
        state): which of its submissions change the level, so that ``times`` gives theirs as
        logged."""
        if self.gen is not None or self.st.flagged or self.idx > n_before:
            return
        if self.idx < n_before:  # the submissions since the view last walked (passes in detail)
            self.idx, self.o, self.oe, self.level = self._walk(
                self.st.raw, self.idx, n_before, None, self.o, self.oe, self.level, self.t, self.lv
            )
        known = self._pass_levels(events, (self.o, self.oe, self.level))
        if known is None:
            return
        seg_t, seg_lv, changes = known[2], known[3], known[4]
        if times is None:
            self.t.extend([t + s for s in shifts for t in seg_t])
        elif changes is None:  # (every submission changes the level)
            self.t.extend(times)
        else:
            self.t.extend(compress(times, cycle(changes)))
        self.lv.extend(seg_lv * len(shifts))
        self.idx = n_before + len(events) * len(shifts)

    def skip_repeat(self, events: list[tuple[int, int, int]], n_before: int) -> bool:
        """Whether passes of the channel's submissions ``events`` repeated after the first
        ``n_before`` logged ones can go unlogged (:mod:`sim.rtio.unlogged`): the submissions
        before them are turned into levels now, and one pass of ``events`` leaves the view as
        it found it (its state after the passes is then the one it has)."""
        if self.gen is not None or self.st.flagged or self.idx > n_before:
            return False
        if self.idx < n_before:
            self.idx, self.o, self.oe, self.level = self._walk(
                self.st.raw, self.idx, n_before, None, self.o, self.oe, self.level, self.t, self.lv
            )
        state = (self.o, self.oe, self.level)
        hit = self._passes.get((id(events), state))  # (_pass_levels' memo, inline)
        if hit is not None and hit[0] is events:
            return hit[1] is not None
        return self._pass_levels(events, state) is not None

    def _pass_levels(
        self, events: list[tuple[int, int, int]], state: tuple[int, int, int]
    ) -> tuple | None:
        """:meth:`repeat`'s account of one pass of ``events`` from ``state`` ``(o, oe,
        level)``: ``(events, state, transition times, levels, which submissions make them (None:
        all))``; None unless the pass ends in ``state``. Kept per ``events`` (by identity: the
        list is held with the result) and ``state``: a loop alternates a few passes."""
        key = (id(events), state)
        hit = self._passes.get(key)
        if hit is not None and hit[0] is events:
            return hit[1]
        seg_t: list[int] = []
        seg_lv: list[int] = []
        changes = []
        inout = self.st.kind == Kind.TTL_INOUT
        o, oe, level = state
        for j in range(len(events)):  # (one by one: which submission makes each transition)
            n = len(seg_t)
            _, o, oe, level = walk_each(events, j, j + 1, None, o, oe, level, inout, seg_t, seg_lv)
            changes.append(len(seg_t) > n)
        known = None
        if (o, oe, level) == state:
            known = (events, state, seg_t, seg_lv, None if all(changes) else changes)
        if len(self._passes) >= 16:
            self._passes.clear()
        self._passes[key] = (events, known)
        return known

    def final(self, res: list[tuple[int, int, int]]) -> tuple[int, int, int]:
        """``(o, oe, level)`` after every submission of ``res`` (the channel's resolved log), as
        turning them all into levels would leave them, without doing so (the hardware state
        at the end of an experiment needs only these)."""
        o, oe = self.o, self.oe
        inout = self.st.kind == Kind.TTL_INOUT
        need_o, need_oe = True, inout
        lo = min(self.idx, len(res))
        i = len(res) - 1
        stop = max(lo, i - 64)  # (the last few one by one: a beam's last level is near the end)
        while i >= stop and (need_o or need_oe):
            _, addr, data = res[i]
            if addr == 0 and need_o:
                o, need_o = (1 if data else 0), False
            elif addr == 1 and need_oe:
                oe, need_oe = (1 if data else 0), False
            i -= 1
        if (need_o or need_oe) and i >= lo:
            # the rest (an input's gates after its one output enable): the last of each
            # address, found from the end of the addresses at once
            back = [e[1] for e in res[i : lo - 1 if lo else None : -1]]
            if need_o and 0 in back:
                o = 1 if res[i - back.index(0)][2] else 0
            if need_oe and 1 in back:
                oe = 1 if res[i - back.index(1)][2] else 0
        return o, oe, o & oe

    def final_by_last(self) -> tuple[int, int, int] | None:
        """:meth:`final` of the channel's log when its last submission alone decides it (an
        output-only channel in order, whose last submission sets the level and is not turned
        into levels yet), without reading the log as tuples; None otherwise."""
        st = self.st
        if st.flagged or self.gen is not None or st.kind == Kind.TTL_INOUT:
            return None
        last = st.last_event()
        if last is None or last[1] != 0 or self.idx >= len(st.log):
            return None
        o = 1 if last[2] else 0
        return o, self.oe, o & self.oe

    def catch_up(self, t_to: int) -> None:
        """Turn the submissions before ``t_to`` (mu) into levels now (retiring a long run's
        history needs the view past what it drops, even when nothing reads the view)."""
        if self.gen is None:
            self._advance(t_to)

    def _advance(self, t_to: int) -> None:
        st = self.st
        if st.pend is not None and not st.flagged and self.idx <= st.pend:
            if self._advance_pulses(t_to):
                return
        res = st.raw if not st.flagged else st.resolved()  # (in time order: its own resolution)
        n = len(res)
        self.idx, self.o, self.oe, self.level = self._walk(
            res,
            self.idx if self.idx < n else n,
            len(res),
            t_to,
            self.o,
            self.oe,
            self.level,
            self.t,
            self.lv,
        )

    def _advance_pulses(self, t_to: int | None) -> bool:
        """:meth:`_advance` over a log that holds only compact pulses from its first one on
        (:attr:`ChannelState.pend`; a pulse train), without turning them into tuples: each pulse
        sets the output high at its first timestamp and low at its second. False (nothing done)
        if a tuple follows the first compact pulse."""
        st = self.st
        log, pend = st.log, st.pend
        assert pend is not None
        seg = log[pend:]
        if tuple in set(map(type, seg)):
            return False
        if self.idx < pend:  # the submissions before the pulses (tuples)
            self.idx, self.o, self.oe, self.level = self._walk(
                log, self.idx, pend, t_to, self.o, self.oe, self.level, self.t, self.lv
            )
            if self.idx < pend:  # (those at ``t_to`` or later wait)
                return True
        n = len(seg) if t_to is None else bisect_left(seg, t_to)
        if n:
            if self.oe:  # the level follows the output: rising, falling, ... from the first
                skip = 1 if self.level else 0  # (a rise while high changes nothing)
                self.t.extend(seg[skip:n])
                self.lv.extend(([1, 0] * ((n + 1) // 2))[skip:n])
                self.level = n & 1
            self.o = n & 1  # (the last submission walked is a rise iff their number is odd)
            self.idx = pend + n
        return True

    def _walk(
        self,
        res: list[tuple[int, int, int]],
        i: int,
        n: int,
        t_to: int | None,
        o: int,
        oe: int,
        level: int,
        out_t: list[int],
        out_lv: list[int],
    ) -> tuple[int, int, int, int]:
        """Turn submissions ``res[i:n]`` (up to the first at ``t_to`` or later) into level
        transitions appended to ``out_t``/``out_lv``, from output ``o``, enable ``oe`` and
        ``level``; returns ``(next index, o, oe, level)``. Many submissions at once (a waveform
        file's whole run) are turned on arrays (:func:`walk_bulk`), a few one by one
        (:func:`walk_each`): the same transitions. Only the submissions before ``t_to`` count
        (the log is in time order), so a world stepping through a long queue of submissions
        in small steps costs no more than the steps."""
        inout = self.st.kind == Kind.TTL_INOUT
        if t_to is not None:
            n = bisect_left(res, (t_to,), i, n)  # compares the times only
        walk = walk_bulk if n - i >= BULK_MIN else walk_each
        return walk(res, i, n, t_to, o, oe, level, inout, out_t, out_lv)


#: submissions from which :meth:`LevelView._walk` works on arrays
BULK_MIN = 512


def walk_each(
    res: list[tuple[int, int, int]],
    i: int,
    n: int,
    t_to: int | None,
    o: int,
    oe: int,
    level: int,
    inout: bool,
    out_t: list[int],
    out_lv: list[int],
) -> tuple[int, int, int, int]:
    """:meth:`LevelView._walk` submission by submission (``inout``: the output enable,
    address 1, counts)."""
    while i < n:
        ts, addr, data = res[i]
        if t_to is not None and ts >= t_to:
            break
        i += 1
        if addr == 0:
            o = 1 if data else 0
        elif addr == 1 and inout:
            oe = 1 if data else 0
        else:
            continue
        new = o & oe
        if new != level:
            level = new
            out_t.append(ts)
            out_lv.append(level)
    return i, o, oe, level


def walk_bulk(
    res: list[tuple[int, int, int]],
    i: int,
    n: int,
    t_to: int | None,
    o: int,
    oe: int,
    level: int,
    inout: bool,
    out_t: list[int],
    out_lv: list[int],
) -> tuple[int, int, int, int]:
    """:func:`walk_each` on arrays: each submission's output and enable carried forward from the
    last one that set them, the level where either is set, its changes kept."""
    seg = res[i:n]
    ts = numpy.fromiter(map(itemgetter(0), seg), numpy.int64, len(seg))
    m = len(seg)
    if t_to is not None:
        late = numpy.flatnonzero(ts >= t_to)
        if len(late):
            m = int(late[0])
            ts, seg = ts[:m], seg[:m]
    if m == 0:
        return i, o, oe, level
    addr = numpy.fromiter(map(itemgetter(1), seg), numpy.int64, m)
    on = numpy.fromiter(map(bool, map(itemgetter(2), seg)), bool, m)
    k = numpy.arange(m)
    sets_o = addr == 0
    sets_oe = addr == 1 if inout else numpy.zeros(m, dtype=bool)
    last = numpy.maximum.accumulate(numpy.where(sets_o, k, -1))
    o_now = numpy.where(last >= 0, on[last], bool(o))
    last = numpy.maximum.accumulate(numpy.where(sets_oe, k, -1))
    oe_now = numpy.where(last >= 0, on[last], bool(oe))
    sets = sets_o | sets_oe
    lv = (o_now & oe_now)[sets]
    if len(lv):
        change = lv != numpy.concatenate(([bool(level)], lv[:-1]))
        out_t.extend(ts[sets][change].tolist())
        out_lv.extend(lv[change].astype(numpy.int64).tolist())
        level = int(lv[-1])
    return i + m, int(o_now[-1]), int(oe_now[-1]), level
