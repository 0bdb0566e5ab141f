# SPDX-License-Identifier: LGPL-3.0-or-later
"""SED output lanes and the ``rtio_output`` hot path.

An event is accepted iff its coarse timestamp exceeds ``coarse counter + 12`` (the lane
distributor's ``minimum_coarse_timestamp``); otherwise the kernel gets ``RTIOUnderflow`` and the
event is discarded. A coarse timestamp not after the previous event's moves the event to the next
lane; a timestamp not after its lane's last one is a sequence error (async, event dropped); a full
lane stalls the CPU until its head event leaves. Accepted events go to the channel's log
(:class:`~sim.rtio.channels.ChannelState`), where replacement and collisions are resolved lazily.

The lanes and the channels keep coarse timestamps in mu: the timestamp with its fine bits cleared
(``ts & -8``, :data:`NEG` for none). Compared with the counter in mu, ``c > counter`` is "coarse
time after the coarse counter" and ``c <= counter + 96`` "not after coarse counter + 12", so the
per-event path needs no shifts; :meth:`SEDOutputs.lane_queues` and the saved hardware state
(:func:`coarse_of`, :func:`cmu_of`) are in coarse cycles.

While DMA records, a period is captured or the lane log is on, ``rtio_output`` is routed to their
variant (:meth:`SEDOutputs._swap_output`): the hot path itself checks none of them.

The simulator TTL drivers' ``pulse``, ``on`` and ``off`` run this module's common case themselves
(:mod:`sim.rtio.ttl_outputs`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sim import syscalls
from sim.rtio.channels import ChannelState
from sim.rtio.errors import RTIOUnderflow
from sim.rtio.summary import AsyncError

__all__ = [
    "SEDOutputs",
    "UNDERFLOW_MARGIN_COARSE",
    "NEG",
    "coarse_of",
    "cmu_of",
]

#: an event is accepted iff its coarse timestamp exceeds ``coarse counter + 12`` (ARTIQ's SED
#: lane distributor and RTIO core)
UNDERFLOW_MARGIN_COARSE = 12
#: the same margin for coarse timestamps in mu: underflow iff ``ts & -8 <= counter + 96``
_MARGIN_MU = UNDERFLOW_MARGIN_COARSE << 3
#: a slack ``ts - counter`` above this cannot underflow (``ts & -8`` is at most 7 below ``ts``)
_SAFE_SLACK = _MARGIN_MU + 7
NEG = -(1 << 62)


def coarse_of(cmu: int) -> int:
    """A coarse timestamp kept in mu, in coarse cycles (:data:`NEG` stays :data:`NEG`)."""
    return cmu >> 3 if cmu > NEG else NEG


def cmu_of(c: int) -> int:
    """A coarse timestamp in coarse cycles, kept in mu (:data:`NEG` stays :data:`NEG`)."""
    return c << 3 if c > NEG else NEG


class SEDOutputs:
    """SED lanes, output submission and collision checks (mixed into the engine)."""

    #: the least slack with which no event can underflow
    UNDERFLOW_FREE_SLACK = _SAFE_SLACK + 1

    now: int
    counter: int
    min_slack: int
    channels: dict[int, ChannelState]
    _c_out: int
    _rec: Any
    _cap: Any
    drtio: Any
    _record: Callable[[int, Any], None]
    _captured_output: Callable[[int, Any], None]
    channel: Callable[[int], ChannelState]
    if TYPE_CHECKING:  # provided by Diagnostics (a stub here would shadow it in the engine's MRO)

        def _underflow(self, target: int, ts: int, counter: int) -> RTIOUnderflow: ...

    _async: Callable[..., None]
    _c_delay: int
    _c_gap: int
    _par_top: bool
    _mu_of: dict[float, int]
    _pulse_s: Any
    _pulse_mu: int
    _slack_floor: int
    _routed: bool
    _diverted: bool
    _seconds_to_mu: Callable[[float], int]
    take_time: Callable[[float], None]
    take_time_mu: Callable[[int], None]
    _note_slack: Callable[[int, int, int], None]

    def _init_sed(self, lane_count: int, lane_depth: int) -> None:
        if lane_count & (lane_count - 1):
            raise ValueError("lane_count must be a power of 2")
        if lane_depth < 2:
            raise ValueError("lane_depth must be at least 2")
        self.lane_count = lane_count
        self.lane_depth = lane_depth
        self._lane_mask = lane_count - 1
        self._lane_log: list[tuple[int, int]] | None = None
        #: the output path when nothing else is routed (drawn costs, slack probe), else None
        self._wrapped_output: Callable[[int, Any], None] | None = None
        #: the entangler's fast-forward may skip identical passes (off while outputs are wrapped)
        self.fast_forward_allowed = True
        #: ``rtio_output`` is routed (:meth:`_swap_output`): :func:`ttl_pulse` goes to the engine
        self._routed = False
        self._reset_lanes()

    def _reset_lanes(self) -> None:
        self._lane = 0
        self._last_c = NEG
        self._lane_last = [NEG] * self.lane_count
        depth = self.lane_depth
        # each lane's last ``lane_depth`` coarse timestamps (in mu), oldest first (NEG: none
        # yet); the oldest is the one a new event waits for when the lane is full (those already
        # gone stay until pushed out: the hot path reads one slot and appends, with no length
        # check)
        self._lane_q: list[deque[int]] = [
            deque((NEG,) * depth, maxlen=depth) for _ in range(self.lane_count)
        ]

    def lane_queues(self) -> list[list[int]]:
        """Each SED lane's recorded coarse timestamps (coarse cycles), oldest first (some may
        have left)."""
        return [[c >> 3 for c in q if c != NEG] for q in self._lane_q]

    def load_lane_queues(self, queues: list[list[int]]) -> None:
        """Restore the lanes from :meth:`lane_queues` (a saved hardware state)."""
        depth = self.lane_depth
        self._lane_q = [
            deque([NEG] * max(depth - len(q), 0) + [c << 3 for c in q][-depth:], maxlen=depth)
            for q in queues
        ]

    def lane_state(self) -> tuple[int, int, list[int]]:
        """The lane of the last accepted event, its coarse timestamp and each lane's last one
        (coarse cycles, :data:`NEG` for none): the saved hardware state's lane cursor."""
        return self._lane, coarse_of(self._last_c), [coarse_of(c) for c in self._lane_last]

    def load_lane_state(self, lane: int, last_c: int, lane_last: list[int]) -> None:
        """Restore :meth:`lane_state`."""
        self._lane, self._last_c = lane, cmu_of(last_c)
        self._lane_last = [cmu_of(c) for c in lane_last]

    def lanes_pending(self) -> bool:
        """True while an event still waits in a lane (its coarse time is after the counter's)."""
        counter = self.counter
        for q in self._lane_q:  # (a loop, not any() of a generator: asked a few times a pass)
            if q[-1] > counter:
                return True
        return False

    def _log_accepted(self, ch: int, ts: int, addr: int, data: Any) -> None:
        """An event a lane accepted, to its channel: the channel's coarse high-water mark (an
        event not after it flags the channel for a sort), its log, its hook. The hot paths
        (:meth:`rtio_output`, :meth:`rtio_pulse`) inline these lines."""
        st = self.channels.get(ch)
        if st is None:
            st = self.channel(ch)
        c = ts & -8
        if c > st.max_c:
            st.max_c = c
        else:
            st.flagged = True
            st.flag_c = st.max_c
        st.log.append((ts, addr, data))
        if st.hook is not None:
            st.hook(ts, addr, data)

    def rtio_output(self, target: int, data: Any) -> None:
        """Syscall ``rtio_output(target, data)``: submit an event at ``now`` (hot path).

        Order of checks as in ARTIQ's lane distributor: candidate lane, full-lane stall, underflow
        (synchronous ``RTIOUnderflow``, event discarded, lane state unchanged), sequence check
        (async: event dropped and logged), write.
        """
        counter = self.counter + self._c_out
        ts = self.now
        c = ts & -8  # coarse timestamps in mu (see the module docstring)
        lane = self._lane
        if c <= self._last_c:
            lane = (lane + 1) & self._lane_mask
        q = self._lane_q[lane]
        # the lane's event ``lane_depth`` writes ago: if it has not left yet (the lane is full),
        # the CPU spins until it does
        head = q[0]
        if head > counter:
            counter = head
        self.counter = counter
        slack = ts - counter
        if slack <= _SAFE_SLACK and c <= counter + _MARGIN_MU:
            raise self._underflow(target, ts, counter)
        lane_last = self._lane_last
        if c <= lane_last[lane]:  # only after a lane switch: a lane's last event is _last_c
            self._async(AsyncError.SEQUENCE, target >> 8, ts)
            return
        q.append(c)
        lane_last[lane] = self._last_c = c
        self._lane = lane
        ch = target >> 8
        if slack < self.min_slack:
            self._note_slack(ch, ts, counter)
        st = self.channels.get(ch)
        if st is None:
            st = self.channel(ch)
        if c > st.max_c:
            st.max_c = c
        else:
            st.flagged = True
            st.flag_c = st.max_c
        st.log.append((ts, target & 0xFF, data))
        if st.hook is not None:
            st.hook(ts, target & 0xFF, data)

    #: the class's submission path, whatever ``rtio_output`` is routed to
    _submit = rtio_output

    def rtio_pulse(self, target: int, duration: Any, seconds: bool = True) -> None:
        """``ttl.pulse`` in one call: ``rtio_output(target, 1)``, ``delay(duration)`` (seconds;
        ``delay_mu`` if not ``seconds``), ``rtio_output(target, 0)`` — the same events, checks,
        counter charges and exceptions as those three calls. The common case (both events in the
        current lane, the channel in order, no hook, neither event near underflow or below the
        least slack so far) is decided on locals before any state is written; every other case
        is :meth:`_pulse_events` (the body of :meth:`rtio_output`, twice). While outputs are
        routed (:meth:`_swap_output`) or in a bare statement of a parallel block, it makes the
        three calls (:meth:`_pulse_routed`)."""
        if self._par_top:
            self._pulse_routed(target, duration, seconds)
            return
        if not seconds:
            mu = duration
        elif duration == self._pulse_s:  # the last duration's mu (a pulse train repeats it)
            mu = self._pulse_mu
        else:
            memo = self._mu_of.get(duration)
            mu = self._seconds_to_mu(duration) if memo is None else memo
            self._pulse_s, self._pulse_mu = duration, mu
        ts = self.now
        c = ts & -8  # coarse timestamps in mu (see the module docstring)
        ts2 = ts + mu
        c2 = ts2 & -8
        try:
            st = self.channels[target >> 8]
        except KeyError:
            st = None
        # the common case's conditions negated: each test is then a short jump, which the
        # interpreter specialises (a jump over the common case's code is not)
        if c2 <= c or c <= self._last_c or st is None or st.hook is not None or c <= st.max_c:
            self._pulse_events(target, mu, st)
            return
        # both events go to the current lane (no lane switch, so no sequence error); the lane is
        # always full (its oldest slots may be long gone), so the second event waits for the
        # slot after the first's
        lane = self._lane
        q = self._lane_q[lane]
        counter = self.counter + self._c_out
        head = q[0]
        if head > counter:
            counter = head
        counter2 = counter + self._c_gap
        head = q[1]
        if head > counter2:
            counter2 = head
        floor = self._slack_floor
        if ts - counter < floor or ts2 - counter2 < floor:
            self._pulse_events(target, mu, st)
            return
        q.append(c)
        q.append(c2)
        self.now = ts2
        self.counter = counter2
        self._last_c = self._lane_last[lane] = st.max_c = c2
        if not target & 0xFF:  # a level pulse: logged compactly (ChannelState.log)
            log = st.log
            if st.pend is None:
                st.pend = len(log)
            log.append(ts)
            log.append(ts2)
        else:
            addr = target & 0xFF
            st.log.append((ts, addr, 1))
            st.log.append((ts2, addr, 0))

    def _pulse_events(self, target: int, mu: int, st: ChannelState | None) -> None:
        """:meth:`rtio_pulse`'s two submissions in every case (lane switches, sequence errors,
        collisions, hooks): the body of :meth:`rtio_output`, twice, its state in locals written
        back before any call; ``st``: the channel's state if it exists."""
        ch = target >> 8
        addr = target & 0xFF
        ts = self.now
        lane_q, lane_last, mask = self._lane_q, self._lane_last, self._lane_mask
        c_out = self._c_out
        counter = self.counter
        cur, last_c = self._lane, self._last_c  # the lane of the last accepted event, its time
        min_slack = self.min_slack
        data = 1
        while True:  # rtio_output(target, data), as above
            counter += c_out
            c = ts & -8
            lane = cur if c > last_c else (cur + 1) & mask
            q = lane_q[lane]
            head = q[0]
            if head > counter:
                counter = head
            if c <= counter + _MARGIN_MU:
                self.counter, self._lane, self._last_c = counter, cur, last_c
                raise self._underflow(target, ts, counter)
            if c <= lane_last[lane]:
                self.counter, self._lane, self._last_c = counter, cur, last_c
                self._async(AsyncError.SEQUENCE, ch, ts)
                counter = self.counter
            else:
                q.append(c)
                lane_last[lane] = last_c = c
                cur = lane
                if ts - counter < min_slack:
                    self.counter, self._lane, self._last_c = counter, cur, last_c
                    self._note_slack(ch, ts, counter)
                    min_slack = self.min_slack
                if st is None:
                    self.counter, self._lane, self._last_c = counter, cur, last_c
                    st = self.channel(ch)
                if c > st.max_c:
                    st.max_c = c
                else:
                    st.flagged = True
                    st.flag_c = st.max_c
                st.log.append((ts, addr, data))
                if st.hook is not None:
                    self.counter, self._lane, self._last_c = counter, cur, last_c
                    st.hook(ts, addr, data)
                    counter, cur, last_c = self.counter, self._lane, self._last_c
                    ts, min_slack = self.now, self.min_slack
            if not data:
                self.counter, self._lane, self._last_c = counter, cur, last_c
                return
            data = 0
            counter += self._c_delay  # delay / delay_mu
            self.now = ts = ts + mu

    def _pulse_routed(self, target: int, duration: Any, seconds: bool = True) -> None:
        """:meth:`rtio_pulse` as three calls, through whatever ``rtio_output`` is routed to."""
        self.rtio_output(target, 1)
        if seconds:
            self.take_time(duration)
        else:
            self.take_time_mu(duration)
        self.rtio_output(target, 0)

    def rtio_output_wide(self, target: int, data: Iterable[int]) -> None:
        """Syscall ``rtio_output_wide(target, [words])``: one event carrying several data words."""
        self.rtio_output(target, tuple(int(d) for d in data))

    @property
    def lane_log(self) -> list[tuple[int, int]] | None:
        """``(channel, lane)`` of every accepted event, while enabled (set to a list to enable)."""
        return self._lane_log

    @lane_log.setter
    def lane_log(self, value: list[tuple[int, int]] | None) -> None:
        self._lane_log = value
        self._swap_output()

    def _swap_output(self) -> None:
        """Route ``rtio_output`` to the DMA recorder, the period capture or the lane logger while
        they are active (the hot path checks none of them)."""
        if self._rec is not None:
            self.__dict__["rtio_output"] = self._record
        elif self._cap is not None:
            self.__dict__["rtio_output"] = self._captured_output
        elif self._lane_log is not None:
            self.__dict__["rtio_output"] = self._logged_output
        elif self._wrapped_output is not None:
            self.__dict__["rtio_output"] = self._wrapped_output
        elif self.drtio is not None:  # satellites: every output is routed (sim.rtio.drtio)
            self.__dict__["rtio_output"] = self.drtio.output
        else:
            self.__dict__.pop("rtio_output", None)
        self._routed = "rtio_output" in self.__dict__
        self._diverted = self._routed or self._par_top
        if self._routed:
            self.__dict__["rtio_pulse"] = self._pulse_routed
        else:
            self.__dict__.pop("rtio_pulse", None)
        syscalls.refresh_hot(self, "rtio_output")
        syscalls.refresh_hot(self, "rtio_pulse")

    def wrap_output(
        self, wrap: Callable[[Callable[[int, Any], None]], Callable[[int, Any], None]]
    ) -> None:
        """Route plain submissions through ``wrap(inner)``, ``inner`` being the path so far
        (drawn CPU costs, the slack probe; wrappers stack). Off by default: the hot path is then
        unchanged. Turns the entangler's fast-forward off (its skipped passes would bypass it)."""
        inner = self._wrapped_output or self._routed_submit
        self._wrapped_output = wrap(inner)
        self.fast_forward_allowed = False
        self._swap_output()

    def _routed_submit(self, target: int, data: Any) -> None:
        """The plain path under the wrappers: through the DRTIO routing when there are
        satellites (installed after or before a wrapper)."""
        if self.drtio is not None:
            self.drtio.output(target, data)
        else:
            self._submit(target, data)

    def _logged_output(self, target: int, data: int) -> None:
        st = self.channel(target >> 8)
        log = st.log
        n = len(log)
        self._submit(target, data)
        if len(log) > n and self._lane_log is not None:
            self._lane_log.append((target >> 8, self._lane))

    def check_collisions(self) -> None:
        """Resolve channels that received out-of-order events and log new collisions."""
        for st in self.channels.values():
            if st.flagged and len(st.log) > st.checked:
                found: list[int] = []
                st.resolved(found)
                for c in found:
                    self._async(AsyncError.COLLISION, st.channel, c << 3)
                st.checked = len(st.log)

    def _compact(self, st: ChannelState) -> None:
        """Fold a flagged channel's final events (coarse time ≤ counter + 12 can take no more
        events) into its resolution; log collisions found on the way."""
        for c in st.compact((self.counter >> 3) + 13):
            self._async(AsyncError.COLLISION, st.channel, c << 3)
