# SPDX-License-Identifier: LGPL-3.0-or-later
"""A captured pass repeated at a list of start times: the engine's part of a CPU-heralding cooling
block drawn in law (:mod:`sim.devices.block_law`).

:meth:`~sim.rtio.capture.PeriodCapture.repeat_period` repeats a pass every ``period.length``; a
block drawn in law has passes of two lengths (a pass with a click takes longer: its reads wait for
the click and drain the detector), so the passes start at shifts that are not a range. Every pass
still makes the captured pass's submissions shifted to its start, with the same slack, and passes
never overlap; their effect on the engine is the same as :meth:`repeat_period`'s: the submissions
logged shifted (or counted, unlogged: :mod:`sim.rtio.unlogged`), each channel's last coarse
timestamp, the SED lanes rotated, cursor and counter after the last pass. The shifts are given as
runs ``(first shift, passes, step)``; the timestamps of every pass are made only for a channel
that has to be logged.
"""

from __future__ import annotations

from itertools import cycle
from typing import Any

from sim.rtio.unlogged import unlogged_channels

__all__ = ["repeat_possible", "repeat_at"]


def repeat_possible(engine: Any, period: Any) -> bool:
    """Whether ``period`` (a captured, periodic pass) can be repeated from the cursor now, as
    :meth:`~sim.rtio.capture.PeriodCapture.repeat_period` checks it for its first pass: the clocks
    relative to each other as at its capture, every submission inside the pass, no channel
    flagged, hooked or with a later timestamp, no event waiting in a lane."""
    if period.length <= 0 or period.counter1 - period.now1 != period.counter0 - period.now0:
        return False
    if engine.now - engine.counter != period.now0 - period.counter0 or not period.regular:
        return False
    s0 = engine.now - period.now0
    for ch, evs in period.by_channel.items():
        st = engine.channels[ch]
        if st.flagged or st.hook is not None or st.max_c >= (evs[0][0] + s0) & -8:
            return False
    return not engine.lanes_pending()


def _shifts(runs: list[tuple[int, int, int]]) -> list[int]:
    out: list[int] = []
    for s, k, step in runs:
        out.extend(range(s, s + k * step, step))
    return out


def repeat_at(
    engine: Any,
    period: Any,
    runs: list[tuple[int, int, int]],
    skipper: Any,
    end_shift: int,
    lead: int = 0,
) -> int:
    """Make ``period``'s submissions at every shift of ``runs`` (``(first, passes, step)``, in
    time order, the first pass at the cursor; :func:`repeat_possible` checked before), whose
    physics ``skipper`` has made (its ``quiet_inputs``: no input edge reaches a PHY), and leave
    cursor and counter as after a pass that ends at ``end_shift`` (the next pass's start
    relative to ``period``'s), the counter ``lead`` mu further than ``period`` leaves it.
    Returns the number of passes."""
    n = sum(k for _, k, _ in runs)
    if n <= 0:
        return 0
    by_ch = period.by_channel
    last = runs[-1][0] + (runs[-1][1] - 1) * runs[-1][2]
    # (unlogged_channels reads only the last shift)
    unlogged = unlogged_channels(engine, period, range(last, last + 1), skipper)
    shifts: list[int] | None = None
    for ch, evs in by_ch.items():
        st = engine.channels[ch]
        if ch not in unlogged:
            if shifts is None:
                shifts = _shifts(runs)
            n_before = len(st.log)
            tss, addrs, datas = period.columns[ch]
            times = [ts + s for s in shifts for ts in tss]
            st.log.extend(zip(times, cycle(addrs), cycle(datas)))
            view = st.level_view
            if view is not None:
                view.repeat(evs, shifts, n_before, times)
        else:
            engine.outputs_before += len(evs) * n
        st.max_c = (evs[-1][0] + last) & -8
    _lanes(engine, period, runs, n)
    engine.now = period.now0 + end_shift
    engine.counter = period.counter0 + end_shift + lead
    return n


def _shift_at(runs: list[tuple[int, int, int]], i: int) -> int:
    """The shift of pass ``i`` of ``runs``."""
    for s, k, step in runs:
        if i < k:
            return s + i * step
        i -= k
    raise IndexError(i)


def _lanes(engine: Any, period: Any, runs: list[tuple[int, int, int]], n: int) -> None:
    """The SED lanes after the passes, as :meth:`~sim.rtio.capture.PeriodCapture._replay_lanes`
    makes them: the first pass and the last :attr:`lane_count` event by event, the passes
    between rotating the lane by the period's switches."""
    nows = period.nows
    lane, last_c, mask = engine._lane, engine._last_c, engine._lane_mask
    lane_last = engine._lane_last
    tail = min(n - 1, engine.lane_count)
    middle = n - tail - 1  # passes between the first and the last ``tail``
    for i in (0, *range(n - tail, n)):
        if i == n - tail and middle > 0:  # the middle passes at once
            lane = (lane + middle * period.switches) & mask
            last_c = (nows[-1] + _shift_at(runs, middle)) & -8
        s = _shift_at(runs, i)
        for t in nows:
            c = (t + s) & -8
            if c <= last_c:
                lane = (lane + 1) & mask
            lane_last[lane] = last_c = c
    engine._lane, engine._last_c = lane, last_c
