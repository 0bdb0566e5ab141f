# SPDX-License-Identifier: LGPL-3.0-or-later
"""The SED lanes after a captured pass repeated at many shifts (mixed into the RTIO engine with
:class:`~sim.rtio.capture.PeriodCapture`): the lane each event takes and each lane's last coarse
timestamp as the per-event path would leave them, without making every pass event by event
(the first pass and the evenly spaced end from results kept per start state)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["LaneReplay", "even_end"]


def even_end(shifts: Sequence[int], lo: int) -> tuple[int, int]:
    """``(j, step)``: from pass ``j`` (≥ ``lo`` ≥ 1) on, ``shifts`` are evenly spaced by
    ``step``, a whole number (> 0) of coarse cycles, and so is pass ``j - 1`` before it;
    ``(len(shifts), 0)`` when no two passes from ``lo - 1`` on are. A sequence with a
    ``last_run`` (``(passes, step)`` of its evenly spaced end, :class:`~sim.rtio.repeat_at.Shifts`)
    says so without a scan."""
    n = len(shifts)
    last_run = getattr(shifts, "last_run", None)
    if last_run is not None:
        k, step = last_run()
        if k < 2 or step <= 0 or step & 7 or n - 1 < lo:
            return n, 0
        return max(lo, n - k + 1), step
    if n - 1 < lo or n < 2:
        return n, 0
    step = shifts[n - 1] - shifts[n - 2]
    if step <= 0 or step & 7:
        return n, 0
    j = n - 1
    while j > lo and shifts[j - 1] - shifts[j - 2] == step:
        j -= 1
    return j, step


class LaneReplay:
    """The SED lanes' replay (mixed into the RTIO engine)."""

    lane_count: int
    _lane: int
    _last_c: int
    _lane_mask: int
    _lane_last: list[int]
    _lane_q: list[Any]

    def _init_lane_replay(self) -> None:
        #: :meth:`_tail_lanes`' results relative to the first tail pass's shift, per pass
        #: timestamps and the lanes' state it starts from (see there)
        self._tails: dict[tuple, tuple[int, int, tuple[tuple[int, int], ...]]] = {}
        #: :meth:`_first_lanes`' results relative to the pass's shift, per start state
        self._firsts: dict[tuple, tuple[int, int, tuple, tuple]] = {}

    def replay_lanes(self, period: Any, shifts: Sequence[int], queue_first: bool = False) -> None:
        """SED lane state after ``period``'s submissions at each of ``shifts``: the first pass
        and the last eight are made event by event (the lanes they touch hold the latest coarse
        timestamps); the passes between only rotate the lane by the period's switches (with
        evenly spaced shifts, a ``range`` of whole coarse cycles, the last ones at once; so
        too the evenly spaced end of other shifts, :func:`even_end`; the first pass as kept
        per start state, :meth:`_first_lanes`). ``queue_first``: the first pass's events also
        enter the lanes' queues."""
        lane, last_c, mask = self._lane, self._last_c, self._lane_mask
        lane_last = self._lane_last
        if queue_first:
            lane, last_c = self._queued_lanes(period.nows, shifts[0], lane, last_c)
            shifts = shifts[1:]
            if not shifts:
                self._lane, self._last_c = lane, last_c
                return
        nows = period.nows
        n = len(shifts)
        tail = min(n - 1, self.lane_count)
        middle = n - tail - 1  # passes between the first and the last ``tail``
        # from which pass on the rest are made at once (evenly spaced by whole coarse cycles,
        # the pass before it too)
        if isinstance(shifts, range):
            at_once, step = (n - tail, shifts.step) if not shifts.step & 7 else (n, 0)
        else:
            at_once, step = even_end(shifts, n - tail)
        lane, last_c = self._first_lanes(nows, shifts[0], lane, last_c)
        for i in range(max(1, n - tail), n):
            if i == n - tail and middle > 0:  # the middle passes at once
                lane = (lane + middle * period.switches) & mask
                last_c = (nows[-1] + shifts[middle]) & -8
            if i == at_once:
                lane, last_c = self._tail_lanes(nows, shifts[i], step, n - i, lane, last_c)
                break
            s = shifts[i]
            for t in nows:
                c = (t + s) & -8  # coarse, in mu as the lanes keep it
                if c <= last_c:
                    lane = (lane + 1) & mask
                lane_last[lane] = last_c = c
        self._lane, self._last_c = lane, last_c  # the lanes themselves stay empty: all past

    def _first_lanes(
        self, nows: tuple[int, ...], s: int, lane: int, last_c: int, queue: bool = False
    ) -> tuple[int, int]:
        """One pass at shift ``s`` from ``lane`` and ``last_c`` (the last coarse timestamp
        before it), event by event as :meth:`replay_lanes` makes it; returns the lane and the
        last coarse timestamp. ``queue``: its events also enter the lanes' queues. Kept per
        start state relative to ``s`` (``last_c`` matters only in the first event's comparison:
        one before the first event's coarse time is kept as None): the lane and coarse timestamp
        of each event, and each lane's last."""
        first = (nows[0] + s) & -8
        key = (nows, s & 7, lane, last_c - s if last_c >= first else None)
        known = self._firsts.get(key)
        if known is None:
            mask = self._lane_mask
            taken: list[tuple[int, int]] = []
            for t in nows:
                c = (t + s) & -8
                if c <= last_c:
                    lane = (lane + 1) & mask
                taken.append((lane, c - s))
                last_c = c
            if len(self._firsts) >= 64:
                self._firsts.clear()
            known = self._firsts[key] = (
                lane,
                last_c - s,
                tuple(taken),
                tuple(dict(taken).items()),  # (each lane's last)
            )
        if queue:
            queues = self._lane_q
            for ln, rel in known[2]:
                queues[ln].append(rel + s)
        lane_last = self._lane_last
        for ln, rel in known[3]:
            lane_last[ln] = rel + s
        return known[0], known[1] + s

    def _queued_lanes(
        self, nows: tuple[int, ...], s: int, lane: int, last_c: int
    ) -> tuple[int, int]:
        """:meth:`_first_lanes` of a pass whose events also enter the lanes' queues."""
        return self._first_lanes(nows, s, lane, last_c, True)

    def _tail_lanes(
        self, nows: tuple[int, ...], s: int, step: int, passes: int, lane: int, last_c: int
    ) -> tuple[int, int]:
        """:meth:`replay_lanes` for ``passes`` passes at shifts ``s``, ``s + step``, ... from
        ``lane`` and ``last_c`` (the previous pass's last coarse timestamp, ``step`` mu before
        this one's): ``step`` a whole number of coarse cycles, every pass switches lanes where
        the first does, so only the first is made event by event; each lane then takes the
        latest of its timestamps, found from the last pass backwards. Returns the lane and the
        coarse timestamp of the last event. The result relative to ``s`` is the same wherever
        the passes lie (for the same ``s`` modulo a coarse cycle): kept per start state, a
        loop's repeats start from the same one (the lanes each pass writes are written again
        by the same passes)."""
        key = (nows, s & 7, step, passes, lane, last_c - s)
        known = self._tails.get(key)
        lane_last = self._lane_last
        if known is not None:
            for ln, rel in known[2]:
                lane_last[ln] = rel + s
            return known[0], known[1] + s
        mask = self._lane_mask
        lanes: list[int] = []
        cs: list[int] = []
        lane0 = lane
        for t in nows:
            c = (t + s) & -8
            if c <= last_c:
                lane = (lane + 1) & mask
            last_c = c
            lanes.append(lane)
            cs.append(c)
        rot = lane - lane0  # lanes moved on per pass (modulo the lane count)
        todo = self.lane_count
        filled = [False] * todo
        for p in range(passes - 1, -1, -1):
            dl, dc = p * rot, p * step
            for j in range(len(cs) - 1, -1, -1):
                ln = (lanes[j] + dl) & mask
                if not filled[ln]:
                    filled[ln] = True
                    lane_last[ln] = cs[j] + dc
                    todo -= 1
            if not todo:
                break
        lane, last_c = (lane0 + passes * rot) & mask, cs[-1] + (passes - 1) * step
        if len(self._tails) >= 64:
            self._tails.clear()
        written = tuple([(ln, lane_last[ln] - s) for ln in range(self.lane_count) if filled[ln]])
        self._tails[key] = (lane, last_c - s, written)
        return lane, last_c
