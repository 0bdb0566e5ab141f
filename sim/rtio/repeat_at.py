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
runs ``(first shift, passes, step)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from sim.rtio.unlogged import unlogged_channels

__all__ = ["Shifts", "repeat_possible", "repeat_at"]


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


class Shifts(Sequence[int]):
    """The shifts of ``runs`` (``(first shift, passes, step)``, in time order) as a sequence,
    without a list of every pass: the engine reads a few of them (the first, the last, those
    of the SED lanes' tail) unless a channel is logged; its evenly spaced end is the last
    run (:meth:`last_run`, :func:`~sim.rtio.lane_replay.even_end`)."""

    __slots__ = ("runs", "_n")

    def __init__(self, runs: list[tuple[int, int, int]]) -> None:
        self.runs = [r for r in runs if r[1] > 0]
        self._n = sum([r[1] for r in self.runs])

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> list[int]: ...

    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return list(self)[i]
        n = self._n
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        # (from the end: the engine reads the last passes)
        back = n - i  # passes from i to the end
        for s, k, step in reversed(self.runs):
            if back <= k:
                return s + (k - back) * step
            back -= k
        raise AssertionError("unreachable")

    def __iter__(self) -> Iterator[int]:
        for s, k, step in self.runs:
            yield from range(s, s + k * step, step)

    def last_run(self) -> tuple[int, int]:
        """The last run's passes and step."""
        _, k, step = self.runs[-1]
        return k, step


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
    relative to ``period``'s), the counter ``lead`` mu further than ``period`` leaves it: the
    submissions and the SED lanes as :meth:`~sim.rtio.capture.PeriodCapture.repeat_period`
    makes them (its ``log_repeats`` and ``replay_lanes``). Returns the number of passes."""
    shifts = Shifts(runs)
    if not len(shifts):
        return 0
    engine.log_repeats(period, shifts, unlogged_channels(engine, period, shifts, skipper))
    engine.replay_lanes(period, shifts)
    engine.now = period.now0 + end_shift
    engine.counter = period.counter0 + end_shift + lead
    return len(shifts)
