# SPDX-License-Identifier: LGPL-3.0-or-later
"""Period capture and repeat: the RTIO engine's part of the fast-forward (:mod:`sim.fastforward`).

While capturing, every accepted submission is recorded with the clocks at its time; a recorded
pass (:class:`Period`) can later be repeated k times at once: its submissions logged shifted, the
cursor, counter and SED lanes moved as the per-event path would move them. The PHY whose run the
pass is built around takes part through :class:`FastForwardPhy`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import cycle
from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

from sim.rtio.lane_replay import LaneReplay
from sim.rtio.unlogged import QuietSkipper, UnloggedPlan, unlogged_channels

__all__ = ["Submission", "Period", "FastForwardPhy", "PeriodCapture"]


class Submission(NamedTuple):
    """One accepted submission of a captured pass, with the clocks when it was made (mu)."""

    now: int
    counter: int
    cost: int
    target: int
    data: Any


@dataclass(eq=False)
class Period:
    """What one pass of a kernel loop submitted: clocks at its start and end (mu) and every
    accepted submission in order. :attr:`key` compares periods wherever they lie in time."""

    now0: int
    counter0: int
    now1: int
    counter1: int
    events: tuple[Submission, ...]
    #: :meth:`states`' memo
    _states: tuple | None = field(default=None, init=False, repr=False)

    @property
    def length(self) -> int:
        """Cursor advance over the period, in mu."""
        return self.now1 - self.now0

    @cached_property
    def by_channel(self) -> dict[int, list[tuple[int, int, Any]]]:
        """The submissions per channel as logged: ``(timestamp, address, data)``."""
        out: dict[int, list[tuple[int, int, Any]]] = {}
        for e in self.events:
            out.setdefault(e.target >> 8, []).append((e.now, e.target & 0xFF, e.data))
        return out

    @cached_property
    def columns(self) -> dict[int, tuple[list[int], list[int], list[Any]]]:
        """:attr:`by_channel` as columns: timestamps, addresses, data."""
        return {
            ch: ([e[0] for e in evs], [e[1] for e in evs], [e[2] for e in evs])
            for ch, evs in self.by_channel.items()
        }

    @cached_property
    def regular(self) -> bool:
        """Every submission lies in the period, before the counter at its end, and each channel's
        coarse timestamps strictly increase: shifted copies cannot meet or wait in a lane."""
        for evs in self.by_channel.values():
            prev = -(1 << 62)
            for ts, _, _ in evs:
                c = ts >> 3
                if c <= prev or ts < self.now0 or ts >= self.now1 or ts >= self.counter1:
                    return False
                prev = c
        return True

    @cached_property
    def nows(self) -> tuple[int, ...]:
        """The submissions' timestamps (mu), in order."""
        return tuple([e.now for e in self.events])

    @cached_property
    def switches(self) -> int:
        """SED lane switches per period (a coarse timestamp not after the previous one)."""
        n = 0
        prev = (self.events[-1].now - self.length) >> 3
        for e in self.events:
            c = e.now >> 3
            if c <= prev:
                n += 1
            prev = c
        return n

    def states(self, channels: dict[int, Any]) -> tuple:
        """Per channel of the period, in :attr:`by_channel`'s order: ``(channel, its
        submissions, its state in channels, the timestamp of its first submission)``, for an
        engine's ``channels`` (a channel's state is made once); kept for the last engine asked
        (a loop repeats its passes on one)."""
        memo = self._states
        if memo is not None and memo[0] is channels:
            return memo[1]
        states = tuple([(ch, evs, channels[ch], evs[0][0]) for ch, evs in self.by_channel.items()])
        self._states = (channels, states)
        return states

    @cached_property
    def key(self) -> tuple:
        n0 = self.now0
        return (
            self.now1 - n0,
            self.counter0 - n0,
            self.counter1 - n0,
            tuple((a - n0, b - n0, c, d, e) for a, b, c, d, e in self.events),
        )


_new_tuple = tuple.__new__


def _waiting(q: Any, counter: int, now: int) -> tuple[tuple[int, int], ...]:
    """The events still waiting in a lane's queue ``q`` (in time order): ``(position,
    coarse timestamp − now)`` from the last one back."""
    found = []
    j = len(q) - 1
    while j >= 0 and q[j] > counter:
        found.append((j, q[j] - now))
        j -= 1
    return tuple(found)


#: :meth:`PeriodCapture.repeat_answered` needs the read to start waiting at least this long
#: (mu) before the answer's earliest arrival (a bound on charges it does not count)
_WAIT_MARGIN_MU = 1000


def _shifted_times(tss: list[int], shifts: Sequence[int]) -> list[int]:
    """``[ts + s for s in shifts for ts in tss]``: the timestamps ``tss`` of one pass at each
    of ``shifts``, pass by pass; for a ``range`` (a step > 0) made without a bytecode per
    timestamp (each timestamp's passes are a range, written to every ``len(tss)``-th slot from
    its own)."""
    if not isinstance(shifts, range):
        return [ts + s for s in shifts for ts in tss]
    a, b, step = shifts.start, shifts.stop, shifts.step
    m = len(tss)
    if m == 1:
        ts = tss[0]
        return list(range(ts + a, ts + b, step))
    out = [0] * (m * len(shifts))
    for j in range(m):
        ts = tss[j]
        out[j::m] = range(ts + a, ts + b, step)
    return out


@runtime_checkable
class FastForwardPhy(QuietSkipper, Protocol):
    """A PHY that takes part in :meth:`PeriodCapture.repeat_period` (and says on which inputs the
    passes it skips are quiet)."""

    def period_signature(self) -> Any:
        """What decides the PHY's next run (and the physics of the pass), or None."""
        ...

    def skip_runs(
        self, max_runs: int, period_mu: int, ref: Any, writes: list[tuple[int, int, Any]]
    ) -> int:
        """Advance the PHY (and the physics) over up to ``max_runs`` passes of ``period_mu``
        making ``writes`` (shifted); the number of passes it accepted."""
        ...


@dataclass(eq=False, slots=True)
class _Capture:
    now0: int
    counter0: int
    n_async: int
    events: list = field(default_factory=list)


class PeriodCapture(LaneReplay):
    """Period capture and repeat (mixed into the RTIO engine; the SED lanes after repeated
    passes: :class:`~sim.rtio.lane_replay.LaneReplay`)."""

    now: int
    counter: int
    _c_out: int
    lane_count: int
    lane_depth: int
    _lane: int
    _last_c: int
    _lane_mask: int
    _lane_last: list[int]
    _lane_q: list[Any]
    lanes_pending: Callable[[], bool]
    _rec: Any
    _lane_log: Any
    recorder: Any
    outputs_before: int
    kernel_async: list[str]
    channels: dict[int, Any]
    _submit: Callable[[int, Any], None]
    _c_delay: int
    costs: Any
    _swap_output: Callable[[], None]

    def _init_capture(self) -> None:
        self._cap: _Capture | None = None
        self._init_lane_replay()
        #: what of a repeated pass may go unlogged, per pass (:mod:`sim.rtio.unlogged`)
        self._unlogged_plans: dict[Period, UnloggedPlan] = {}

    def capture_possible(self) -> bool:
        """Whether a pass could be captured (and repeated) now: not while DMA records, the lane
        log is on or a capture runs."""
        return self._rec is None and self._lane_log is None and self._cap is None

    def capture_start(self) -> bool:
        """Start recording every accepted submission with the clocks at its time (for
        :meth:`repeat_period`). False (nothing recorded) when :meth:`capture_possible` is not."""
        if not self.capture_possible():
            return False
        self._cap = _Capture(self.now, self.counter, len(self.kernel_async))
        self._swap_output()
        return True

    def capture_stop(self) -> Period | None:
        """Stop recording; the submissions since :meth:`capture_start` as a :class:`Period`, or
        None when one failed (underflow, sequence error) or nothing was recorded."""
        cap = self._cap
        self._cap = None
        self._swap_output()
        if cap is None or not cap.events:
            return None
        if len(self.kernel_async) != cap.n_async or len(cap.events) >= self.lane_depth:
            return None
        return Period(cap.now0, cap.counter0, self.now, self.counter, tuple(cap.events))

    def lanes_signature(self) -> tuple:
        """The SED lanes as the next submissions meet them, relative to the cursor (mu): the last
        accepted event's coarse timestamp, and per lane from the current one on its last one and
        the events still waiting in it (position in its queue, coarse timestamp); a time not
        after the counter is None (it stalls nothing, and no event at the cursor or later meets
        it in sequence)."""
        now, counter = self.now, self.counter
        first = self._lane  # (the lanes from the current one on)
        queues = self._lane_q[first:] + self._lane_q[:first]
        lasts = self._lane_last[first:] + self._lane_last[:first]
        lanes = tuple(
            [
                (
                    last - now if last > counter else None,
                    _waiting(q, counter, now) if q and q[-1] > counter else (),
                )
                for q, last in zip(queues, lasts)
            ]
        )
        return (self._last_c - now if self._last_c > counter else None, lanes)

    def _captured_output(self, target: int, data: Any) -> None:
        # (a Submission without its Python-level __new__: one frame less per captured event)
        entry = _new_tuple(Submission, (self.now, self.counter, self._c_out, target, data))
        self._submit(target, data)  # an underflow propagates: no period then
        self._cap.events.append(entry)  # type: ignore[union-attr]

    def repeat_period(
        self,
        period: Period,
        max_repeats: int,
        phy_channel: int,
        ref: Any = None,
        skipper: FastForwardPhy | None = None,
        start: bool = False,
    ) -> int:
        """Fast-forward passes of a kernel loop around a run of the PHY on ``phy_channel``.

        The caller has checked that the loop is now where ``period`` (a pass recorded earlier)
        began, relative to the cursor, so that the next pass makes ``period``'s submissions
        again, shifted to start at the cursor; for more than one pass, ``period`` must also end
        where it began (passes then follow every T = ``period.length``). The PHY's
        :meth:`~FastForwardPhy.skip_runs` says how many of them end the same way and advances
        itself and the physics over them. Their submissions are then logged, without
        re-triggering that PHY, and cursor, counter and SED lanes move on as the per-event path
        would move them: every submission lies inside its pass with the same slack as in
        ``period``, and no earlier event still waits in a lane, so none underflows, stalls a
        lane or reaches a channel out of order. ``start``: the first pass follows a marked start
        at which the caller found the lanes as when the pass it repeats was captured
        (:meth:`lanes_signature`): events may then still wait in lanes, as they did then, if
        they have all left by the pass's end; its events enter the lanes' queues as they did
        then. Returns the number of passes done.
        """
        t = period.length
        periodic = period.counter1 - period.now1 == period.counter0 - period.now0
        if (
            t <= 0
            or (max_repeats > 1 and not periodic)
            or self.now - self.counter != period.now0 - period.counter0
            or not period.regular
        ):
            return 0
        if skipper is None:
            st = self.channels.get(phy_channel)
            if st is None or not isinstance(st.phy, FastForwardPhy):
                return 0
            skipper = st.phy
        s0 = self.now - period.now0  # shift of the first pass
        if not self._in_order(period, s0, phy_channel):
            return 0
        # events still waiting in a lane would see the passes' submissions queue behind them
        if self.lanes_pending() and (
            not start or any(q[-1] > period.counter1 + s0 for q in self._lane_q)
        ):
            return 0
        writes = [(ts + s0, a, d) for ts, a, d in period.by_channel.get(phy_channel, ())]
        k_done = skipper.skip_runs(max_repeats, t, ref, writes)
        if k_done <= 0:
            return 0
        shifts = range(s0, s0 + k_done * t, t)
        self.log_repeats(period, shifts, unlogged_channels(self, period, shifts, skipper))
        self.replay_lanes(period, shifts, start)
        self.now = period.now1 + shifts[-1]
        self.counter = period.counter1 + shifts[-1]
        return k_done

    def _in_order(self, period: Period, s0: int, phy_channel: int) -> bool:
        """Whether ``period``'s submissions shifted by ``s0`` reach every channel in order (after
        its last event, no channel waiting for a sort) and none but ``phy_channel``'s PHY would
        be triggered (no other channel with a hook)."""
        for ch, _, other, first in period.states(self.channels):
            if (
                other.flagged
                or (ch != phy_channel and other.hook is not None)
                or other.max_c >= (first + s0) & -8
            ):
                return False
        return True

    def repeat_answered(
        self, period: Period, phy_channel: int, skipper: Any, start: bool = False
    ) -> tuple[int, int] | None:
        """The next pass of a kernel loop makes ``period``'s submissions again, shifted to the
        cursor (the caller has checked, as for :meth:`repeat_period`), the last of them a run of
        the PHY on ``phy_channel`` that ``skipper`` has already drawn to herald; the kernel then
        only reads the run's answer (blocking) and resyncs from it, as it did in ``period``,
        whose run timed out. The pass is made at once: the world's window up to the run
        (``skipper.armed_window``), its submissions logged (unlogged where nothing will read
        them, :mod:`sim.rtio.unlogged`) and queued in the SED lanes as the per-event path
        makes them, the run made by ``skipper.armed_run`` (``skipper.armed_pass`` says whether
        it can, the earliest arrival of the answer and the run's end had it timed out), and the
        clocks those at ``period``'s end less what the run ended earlier (the read waits for
        the answer in both: it arrives after the counter the read starts from). ``start``: as
        for :meth:`repeat_period`, events may still wait in lanes if they leave before the
        answer can arrive. Returns the run's end (mu) and answer, or None (nothing done)."""
        events = period.events
        if (
            period.length <= 0
            or self.now - self.counter != period.now0 - period.counter0
            or not period.regular
            or events[-1].target >> 8 != phy_channel
        ):
            return None
        s0 = self.now - period.now0
        if not self._in_order(period, s0, phy_channel):
            return None
        writes = [(ts + s0, a, d) for ts, a, d in period.by_channel[phy_channel]]
        bounds = skipper.armed_pass(writes)
        if bounds is None:
            return None
        first_arrival, timeout_end = bounds
        if self.lanes_pending() and (not start or any(q[-1] > first_arrival for q in self._lane_q)):
            return None
        run = events[-1]
        # the counter when the read starts to wait: the run's submission, its delay, the read
        waits_from = run.counter + s0 + run.cost + self._c_delay + self.costs.rtio_input
        if waits_from + _WAIT_MARGIN_MU > first_arrival:
            return None
        # the world's window first: once it is past them, what nothing reads goes unlogged
        skipper.armed_window(writes)
        shifts = (s0,)
        self.log_repeats(period, shifts, unlogged_channels(self, period, shifts, skipper))
        self.replay_lanes(period, shifts, True)
        t_end, data = skipper.armed_run(writes)
        earlier = timeout_end - t_end
        self.now = period.now1 + s0 - earlier
        self.counter = period.counter1 + s0 - earlier
        return t_end, data

    def log_repeats(self, period: Period, shifts: Sequence[int], unlogged: Collection[int]) -> None:
        """``period``'s submissions made again at each of ``shifts`` (increasing, passes that do
        not overlap): logged shifted, with the channels' level views, or for the channels in
        ``unlogged`` (:mod:`sim.rtio.unlogged`) counted; each channel's last coarse timestamp
        as after the last pass."""
        last, passes = shifts[-1], len(shifts)
        if unlogged and not isinstance(unlogged, (set, frozenset)):
            unlogged = set(unlogged)  # (asked once per channel)
        columns = period.columns
        for ch, evs, other, _ in period.states(self.channels):
            if ch in unlogged:  # (nothing will read them: counted, not logged)
                self.outputs_before += len(evs) * passes
                other.max_c = (evs[-1][0] + last) & -8
                continue
            n_before = len(other.log)
            tss, addrs, datas = columns[ch]
            times = _shifted_times(tss, shifts)
            other.log.extend(zip(times, cycle(addrs), cycle(datas)))
            view = other.level_view
            if view is not None:  # (the view takes the transitions' times as logged)
                view.repeat(evs, shifts, n_before, times)
            other.max_c = (evs[-1][0] + last) & -8
