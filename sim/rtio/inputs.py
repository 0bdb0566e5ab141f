# SPDX-License-Identifier: LGPL-3.0-or-later
"""Input FIFOs (``artiq/gateware/rtio/input_collector.py``).

Each input channel has a FIFO of ``depth`` events (64 by default,
``artiq/gateware/rtio/channel.py``; 4 for SPI-type channels on Kasli, ``artiq/gateware/eem.py``). An
event that arrives while the FIFO is full is dropped and sets a sticky overflow flag; the next read
reports the overflow (the kernel raises ``RTIOOverflow``) without consuming an event and clears the
flag, so later reads return the older, buffered events. Events stay in the FIFO across kernels until
``core.reset()``, which clears the FIFO contents and the overflow flag: both belong to the input
collector, which the gateware puts in the ``rio`` clock domain that ``core.reset()`` resets
(m-labs/artiq#2083 reported a flag surviving the reset on older gateware; ARTIQ's
``test_rtio.py`` runs ``Watch`` after ``Overflow`` on the same input and passes on hardware).

Events are produced lazily by the channel's PHY (:meth:`input_events`), never ahead of the time the
engine needs them. ``pending`` holds events that the PHY produced but that have not yet arrived.

:class:`InputReads` is the engine's side: the input syscalls (a read waits until its timeout, an
event or an overflow) and :meth:`InputReads.world_edges`, through which input PHYs receive the
edges of the attached worlds (the place to record every delivered input edge).
"""

from __future__ import annotations

from collections import deque
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, cast

from sim.rtio.errors import RTIOOverflow
from sim.rtio.exception_log import ExceptionMark, RTIOException
from sim.rtio.phy.interface import InputSource, SelfTimed, WaitsQuietly, implements
from sim.rtio.views import NEVER

if TYPE_CHECKING:
    from sim.physics.view import World

__all__ = ["InputChannel", "InputReads", "DEFAULT_FIFO_DEPTH", "SPI_FIFO_DEPTH"]

DEFAULT_FIFO_DEPTH = 64
SPI_FIFO_DEPTH = 4


def _cannot_tell(t_need: int) -> int:
    """The answer of a PHY that cannot say until when it is quiet."""
    return -NEVER


class InputChannel:
    """FIFO + sticky overflow of one input channel; ``phy`` provides ``input_events(t_end)``."""

    __slots__ = (
        "channel",
        "depth",
        "fifo",
        "pending",
        "overflow",
        "phy",
        "t_gen",
        "marks",
        "waiting",
        "quiet_to",
        "next_self_event",
        "waits_quietly",
        "phy_quiet_until",
    )

    def __init__(self, channel: int, phy: InputSource, depth: int = DEFAULT_FIFO_DEPTH) -> None:
        self.channel = channel
        self.depth = depth
        self.phy = phy
        self.fifo: deque[tuple[int, int]] = deque()
        self.pending: deque[tuple[int, int, int]] = deque()
        self.overflow = False
        self.t_gen = -(1 << 62)
        #: where dropped events are marked for the waveform (the recorder's list), or None
        self.marks: list[ExceptionMark] | None = None
        #: a count is reading (nothing can be submitted until it returns), and what the PHY
        #: said it produces nothing before since it was last asked (None: not known)
        self.waiting = False
        self.quiet_to: int | None = None
        #: the PHY's :meth:`~sim.rtio.phy.interface.SelfTimed.next_self_event`, or None
        self.next_self_event = (
            cast(SelfTimed, phy).next_self_event if implements(phy, SelfTimed) else None
        )
        #: the PHY can say until when it produces nothing (:class:`~.phy.interface.WaitsQuietly`),
        #: by its ``quiet_until`` (else a stand-in that never can; not asked then)
        self.waits_quietly = implements(phy, WaitsQuietly)
        self.phy_quiet_until = (
            cast(WaitsQuietly, phy).quiet_until if self.waits_quietly else _cannot_tell
        )

    def generate(self, t_end: int) -> None:
        """Ask the PHY for all events that arrive before ``t_end`` (mu, RTIO counter time).

        While a count reads (:attr:`waiting`), a PHY that can tell when it next produces
        anything (``quiet_until``) is not asked before then: it would produce nothing and move
        no world; the next question covers the window (the same events and draws)."""
        if t_end <= self.t_gen:
            return
        if self.waiting:
            quiet = self.quiet_to
            if quiet is None:
                quiet = self.quiet_to = self.phy_quiet_until(t_end)
            if t_end <= quiet:
                self.t_gen = t_end
                return
            self.quiet_to = None  # the PHY's answer changes the worlds
        self.t_gen = t_end
        new = self.phy.input_events(t_end)
        if new:
            self.pending.extend(new)

    def fill(self, counter: int) -> None:
        """Move every event that has arrived by ``counter`` into the FIFO (dropping on overflow)."""
        if counter >= self.t_gen:
            self.generate(counter + 1)
        pending = self.pending
        if not pending or pending[0][0] > counter:
            return
        fifo = self.fifo
        depth = self.depth
        while pending and pending[0][0] <= counter:
            _, ts, data = pending.popleft()
            if len(fifo) >= depth:
                self.fill_overflow(ts)
            else:
                fifo.append((ts, data))

    def fill_overflow(self, ts: int) -> None:
        """An event (timestamp ``ts``) arrived at a full FIFO: dropped, sticky overflow set."""
        self.overflow = True
        if self.marks is not None:
            self.marks.append(ExceptionMark(RTIOException.OVERFLOW, ts, self.channel))

    def next_arrival(self, t_end: int) -> int | None:
        """Arrival time of the next event arriving before ``t_end``, or None."""
        self.generate(t_end)
        if self.pending and self.pending[0][0] < t_end:
            return self.pending[0][0]
        return None

    def reset(self) -> None:
        """``rtio_init``: discard buffered and in-flight events and clear the overflow flag."""
        self.fifo.clear()
        self.pending.clear()
        self.overflow = False


def _reads_one_by_one(
    inp: InputChannel, counter: int, cost: int, t_out: int, n: int
) -> tuple[int, int]:
    """Reads of a count with an empty FIFO while the events up to the timeout are known: while
    each next one arrives alone, after the next read's charge and before the timeout, that read
    waits for it and takes it (the count loop's steps for it, without its calls). Returns the
    counter and the events read so far."""
    pending = inp.pending
    if t_out > inp.t_gen or inp.depth <= 0:
        return counter, n
    while pending:
        a, ts, _ = pending[0]
        if a <= counter + cost or a >= t_out or ts < 0:
            break
        if len(pending) > 1 and pending[1][0] <= a:
            break
        pending.popleft()
        counter = a
        n += 1
    return counter, n


class InputReads:
    """Input syscalls over the channels' FIFOs, and world edges (mixed into the engine)."""

    counter: int
    ref_period: float
    costs: Any
    channel_name: Callable[[int], str]
    recorder: Any
    _log_core: Callable[[str], None]

    def _init_inputs(self) -> None:
        self.inputs: dict[int, InputChannel] = {}
        self.worlds: list[World] = []
        #: the worlds' ``quiet_until``, for as many worlds
        self._quiets: list[Callable[[int, int], int]] = []
        #: a time tagger's feed (:class:`sim.tag_feed.TagFeed`) copying input edges, else None
        self.tag_tap: Callable[[int, list[tuple[int, int]]], None] | None = None

    def _input(self, channel: int) -> InputChannel:
        inp = self.inputs.get(channel)
        if inp is None:
            raise ValueError(
                "RTIO channel {} ({}) has no input".format(channel, self.channel_name(channel))
            )
        return inp

    def _overflow(self, channel: int) -> RTIOOverflow:
        msg = "RTIO input overflow on channel 0x{:04x}:{}".format(
            channel, self.channel_name(channel)
        )
        return RTIOOverflow(msg)  # a core-log error only if the kernel does not catch it

    def _read(self, channel: int, timeout: int | None) -> tuple[int, int]:
        """A read command: wait until counter >= timeout, or the FIFO has data, or overflow
        (as ARTIQ's input collector and firmware do). Returns (ts, data) or (-1, 0) on timeout."""
        self.counter += self.costs.rtio_input
        inp = self.inputs.get(channel)
        if inp is None:
            inp = self._input(channel)  # (raises)
        if timeout is not None and timeout < 0:
            timeout = None  # the 64-bit unsigned timeout register: -1 waits forever
        counter = self.counter
        inp.fill(counter)
        if not inp.fifo and not inp.overflow:
            t: int | None
            if timeout is None:
                t = self._wait_forever(inp)
            else:
                t = inp.next_arrival(timeout + 1)
            if t is None:
                counter = max(counter, (int(timeout) + 7) & ~7)  # type: ignore[arg-type]
                self.counter = counter
                inp.fill(counter)
                if not inp.fifo and not inp.overflow:
                    return -1, 0
            else:
                if t > counter:
                    counter = t
                self.counter = counter
                inp.fill(counter)
        if inp.overflow:
            inp.overflow = False
            raise self._overflow(channel)
        return inp.fifo.popleft()

    def _wait_forever(self, inp: InputChannel) -> int:
        """Block without timeout. A PHY that knows its next self-generated event (a sample, a gate
        event, an SPI transfer) bounds the look-ahead exactly; otherwise the engine looks ahead in
        growing chunks (worlds then see outputs submitted later within the last chunk as
        missing)."""
        hint = inp.next_self_event
        if hint is not None:
            t_self = hint()
            if t_self is not None:
                t = inp.next_arrival(max(t_self, self.counter) + 1)
                if t is not None:
                    return t
        step = 112
        t0 = self.counter
        limit = t0 + int(100.0 / self.ref_period)
        t_end = t0 + step
        while True:
            t = inp.next_arrival(t_end)
            if t is not None:
                return t
            if t_end > limit:
                raise RuntimeError(
                    "input read on RTIO channel 0x{:04x}:{} blocks forever (no event "
                    "within 100 s of simulated time)".format(
                        inp.channel, self.channel_name(inp.channel)
                    )
                )
            step = min(step * 2, 10_000_000)
            t_end += step

    def rtio_input_timestamp(self, timeout_mu: int, channel: int) -> int:
        """Syscall: timestamp of the next input event, or -1 if none arrives before
        ``timeout_mu``."""
        return self._read(channel, timeout_mu)[0]

    def rtio_input_count(self, timeout_mu: int, channel: int) -> int:
        """``rtio_input_timestamp(timeout_mu, channel)`` repeated until it returns -1 (the loop of
        ``TTLInOut.count``, each read charged as one); the number of events read."""
        n = 0
        cost = self.costs.rtio_input
        inp = self._input(channel)
        if (
            timeout_mu >= 0
            and not getattr(self.costs, "drawn", False)
            and "_read" not in vars(self)
        ):
            return self._count_reads(inp, timeout_mu, cost)
        while self._read(channel, timeout_mu)[0] >= 0:
            n += 1
            # the buffered events are read back to back, one read cost each, no wait; what
            # arrives meanwhile queues behind them (if it cannot fill the FIFO: no overflow)
            m = len(inp.fifo)
            if m and not inp.overflow:
                end = self.counter + m * cost
                inp.generate(end + 1)
                if m + len(inp.pending) < inp.depth:
                    self.counter = end
                    inp.fifo.clear()
                    n += m
                    inp.fill(end)
        return n

    def _count_reads(self, inp: InputChannel, timeout_mu: int, cost: int) -> int:
        """:meth:`rtio_input_count`'s reads with a fixed read cost, a timeout and the plain
        :meth:`_read`: the same reads, counter charges and events, the events the PHY has
        already produced moved and read in place (a readout's clicks cost no call each), the
        PHY asked only when it may produce something (:attr:`InputChannel.waiting`)."""
        inp.waiting = inp.waits_quietly
        inp.quiet_to = None
        try:
            return self._count_loop(inp, timeout_mu, cost)
        finally:
            inp.waiting = False
            inp.quiet_to = None

    def _count_loop(self, inp: InputChannel, timeout_mu: int, cost: int) -> int:
        """:meth:`_count_reads`' loop."""
        fifo, pending, depth = inp.fifo, inp.pending, inp.depth
        t_out = timeout_mu + 1
        n = 0
        while True:
            # one read (:meth:`_read`): charge, fill, wait for an arrival or the timeout
            counter = self.counter + cost
            self.counter = counter
            if counter >= inp.t_gen:
                inp.generate(counter + 1)
            if not fifo and (read := self._read_arrived(inp, counter, cost, t_out)):
                n += read
                continue
            while pending and pending[0][0] <= counter:  # fill, inline
                _, ts, data = pending.popleft()
                if len(fifo) >= depth:
                    inp.fill_overflow(ts)
                else:
                    fifo.append((ts, data))
            if not fifo and not inp.overflow:
                if t_out > inp.t_gen:
                    inp.generate(t_out)
                if pending and pending[0][0] < t_out:
                    t = pending[0][0]
                    if t > counter:
                        counter = t
                    self.counter = counter
                    inp.fill(counter)
                else:
                    t = (timeout_mu + 7) & ~7
                    if t > counter:
                        counter = t
                    self.counter = counter
                    inp.fill(counter)
                    if not fifo and not inp.overflow:
                        return n
            if inp.overflow:
                inp.overflow = False
                raise self._overflow(inp.channel)
            if fifo.popleft()[0] < 0:
                return n
            n += 1 + self._read_on(inp, cost, t_out)

    def _read_on(self, inp: InputChannel, cost: int, t_out: int) -> int:
        """After a read of :meth:`_count_loop` took an event: the events buffered meanwhile are
        read back to back, one read cost each, no wait, if what arrives meanwhile cannot fill
        the FIFO (no overflow; it queues behind them), else left for the loop; with none
        buffered, those arriving alone are read one by one (:func:`_reads_one_by_one`).
        Advances the counter past these reads; returns how many events they read."""
        m = len(inp.fifo)
        if m:
            end = self.counter + m * cost
            inp.generate(end + 1)
            if m + len(inp.pending) < inp.depth:
                self.counter = end
                inp.fifo.clear()
                inp.fill(end)
                return m
            return 0
        self.counter, n = _reads_one_by_one(inp, self.counter, cost, t_out, 0)
        return n

    def _read_arrived(self, inp: InputChannel, counter: int, cost: int, t_out: int) -> int:
        """One read of :meth:`_count_loop` (charged already, the counter at ``counter``) with an
        empty FIFO and every pending event arrived (a readout gate counted after it closed):
        the read takes the first event, the rest go to the FIFO at once (one C call, not the
        loop's fill, event by event) and :meth:`_read_on` reads them: the same counter, events
        and questions to the PHY as the loop's fill and reads. Returns the events read; 0
        (nothing done) where the loop must step: fewer than two events, one not arrived, an
        overflow to report, more events than the FIFO holds, a negative timestamp."""
        pending = inp.pending
        k = len(pending)
        if k < 2 or pending[-1][0] > counter:
            return 0
        if inp.overflow or k > inp.depth or pending[0][1] < 0:
            return 0
        pending.popleft()
        inp.fifo.extend(map(itemgetter(1, 2), pending))
        pending.clear()
        return 1 + self._read_on(inp, cost, t_out)

    def rtio_input_data(self, channel: int) -> int:
        """Syscall: data of the next input event (blocks without timeout)."""
        return self._read(channel, None)[1]

    def rtio_input_timestamped_data(self, timeout_mu: int, channel: int) -> tuple[int, int]:
        """Syscall: ``(timestamp, data)`` of the next input event, or ``(-1, 0)`` on timeout."""
        return self._read(channel, timeout_mu)

    def quiet_until(self, channel: int, t_need: int) -> int:
        """A time (mu) before which :meth:`world_edges` of ``channel`` gives nothing and moves no
        world, as long as nothing is submitted meanwhile (the earliest of the worlds'); it may
        stop short of ``t_need`` once that is clearly not reached."""
        h = NEVER
        quiets = self._quiets
        if len(quiets) != len(self.worlds):  # (worlds are only ever added)
            quiets = self._quiets = [w.quiet_until for w in self.worlds]
        for q in quiets:
            t = q(channel, t_need)
            if t < h:
                h = t
                if h < t_need:
                    break
        return h

    def world_edges(self, channel: int, t_end: int) -> list[tuple[int, int]]:
        """Input transitions on ``channel`` before ``t_end`` from all attached worlds, in time
        order."""
        out: list[tuple[int, int]] = []
        sources = 0
        for w in self.worlds:
            e = w.input_edges(channel, t_end)
            if e:
                out.extend(e)
                sources += 1
        if sources > 1:  # (each world gives its edges in time order)
            out.sort(key=itemgetter(0))
        if out and self.recorder is not None:
            self.recorder.add_edges(channel, out)
        if out and self.tag_tap is not None:
            self.tag_tap(channel, out)
        return out
