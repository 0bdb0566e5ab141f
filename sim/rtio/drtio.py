# SPDX-License-Identifier: LGPL-3.0-or-later
"""DRTIO: RTIO channels of satellite destinations, as ARTIQ's master and satellite gateware and
firmware handle them (``gateware/drtio/rt_controller_master.py``, ``rt_packet_satellite.py``,
``firmware/ksupport/rtio.rs``, ``firmware/satman``, ``firmware/runtime/rtio_mgt.rs``).

A channel number is ``(destination << 16) | local channel``; destination 0 is the master's own
RTIO core. The engine routes through :class:`Drtio` only when a device database declares
satellite channels (:meth:`Drtio.install`): a system without satellites runs the engine's plain
paths and pays nothing.

What is modelled, per destination (:class:`Destination`):

- **Link latency** ``latency_mu`` one way (SERDES and fibre), fixed per hop.
- **Outputs.** The master's DRTIO controller refuses a write whose coarse timestamp, less its
  underflow margin (a CSR, 300 mu after reset), is before the coarse counter: the kernel gets
  ``RTIOUnderflow`` (ARTIQ's message). Otherwise the write is sent; it reaches the satellite one
  latency later. There the satellite's SED applies its own rule (the coarse timestamp must not be
  before the satellite's coarse counter + 16): a late event is dropped and only the satellite's
  log says so (``write underflow, channel=…, timestamp=…, counter=…, slack=…``; the kernel
  goes on). Sequence errors and collisions on the satellite reach the core log as the master's
  link thread reports them (``[DEST#1] RTIO sequence error involving channel …``) and the
  host's after-kernel warning.
- **Remote buffer space.** The master caches the satellite's free SED space (the fullest lane's
  free entries); every write uses one. When the cache is down to one, the master asks the
  satellite again and the CPU waits a round trip; an answer of 0 makes it ask again. So a burst
  of events to a satellite stalls the CPU when the satellite's FIFOs are full of events waiting
  for their timestamps.
- **Inputs.** A read request travels to the satellite (one latency), the satellite's input
  collector applies the timeout in its (synchronised) time, and the answer travels back: a read
  costs a round trip on top of the wait.
- **Link state.** ``up`` unless forced down (``--link-down``) or inside a scheduled outage of the
  lab description; outputs and inputs to a destination that is down raise
  ``RTIODestinationUnreachable`` with ARTIQ's messages; ``core.get_rtio_destination_status``
  reads it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sim.rtio.errors import RTIODestinationUnreachable
from sim.rtio.exception_log import RTIOException
from sim.rtio.inputs import InputReads
from sim.rtio.sed import NEG, SEDOutputs
from sim.rtio.summary import AsyncError

__all__ = [
    "Destination",
    "Drtio",
    "LinkSpec",
    "UNDERFLOW_MARGIN_MU",
    "SATELLITE_MARGIN_COARSE",
    "destination_of",
]

#: the master DRTIO controller's ``underflow_margin`` CSR after reset (mu)
UNDERFLOW_MARGIN_MU = 300
#: the satellite SED accepts a coarse timestamp ≥ its coarse counter + 16
SATELLITE_MARGIN_COARSE = 16


def destination_of(channel: int) -> int:
    """The DRTIO destination of a (24-bit) RTIO channel number."""
    return channel >> 16


@dataclass(frozen=True)
class LinkSpec:
    """One satellite link as the lab describes it.

    :param latency_mu: one-way latency master → satellite (mu, ≥ 0).
    :param outages: ``(down_mu, up_mu)`` intervals of RTIO time in which the link is down.
    :param lane_count: SED lanes of the satellite; :param lane_depth: events per lane.
    """

    latency_mu: int
    outages: tuple[tuple[int, int], ...] = ()
    lane_count: int = 8
    lane_depth: int = 128


@dataclass
class Destination:
    """A satellite: its link and the SED lanes that hold its pending events."""

    number: int
    spec: LinkSpec
    forced_down: bool = False
    #: the master's cached copy of the satellite's buffer space
    cached_space: int = 0
    lanes: list[deque[int]] = field(default_factory=list)
    lane_last: list[int] = field(default_factory=list)
    lane: int = 0
    last_c: int = NEG
    #: round trips the master spent asking for buffer space (diagnostics)
    space_requests: int = 0

    def __post_init__(self) -> None:
        self.reset_lanes()

    @property
    def latency_mu(self) -> int:
        return self.spec.latency_mu

    def reset_lanes(self) -> None:
        """Empty SED lanes (satellite boot or ``rtio_init``); the master's cache full again."""
        n = self.spec.lane_count
        self.lanes = [deque() for _ in range(n)]
        self.lane_last = [NEG] * n
        self.lane = 0
        self.last_c = NEG
        self.cached_space = self.spec.lane_depth

    def up(self, t_mu: int) -> bool:
        """Whether the link is up at RTIO time ``t_mu``."""
        if self.forced_down:
            return False
        for down, back in self.spec.outages:
            if down <= t_mu < back:
                return False
        return True

    def free_space(self, t_mu: int) -> int:
        """Free entries of the fullest lane at satellite time ``t_mu`` (events leave their lane
        when the coarse counter reaches their coarse timestamp)."""
        cc = t_mu >> 3
        fullest = 0
        for q in self.lanes:
            while q and q[0] <= cc:
                q.popleft()
            if len(q) > fullest:
                fullest = len(q)
        return self.spec.lane_depth - fullest

    def next_departure(self) -> int | None:
        """Coarse timestamp at which the next event leaves a lane, or None."""
        heads = [q[0] for q in self.lanes if q]
        return min(heads) if heads else None

    def enqueue(self, c: int) -> bool:
        """Put an event of coarse timestamp ``c`` into a lane as the lane distributor does; False
        for a sequence error (the event is dropped)."""
        lane = self.lane
        if c <= self.last_c:
            lane = (lane + 1) % len(self.lanes)
        if c <= self.lane_last[lane]:
            return False
        self.lanes[lane].append(c)
        self.lane_last[lane] = self.last_c = c
        self.lane = lane
        return True


class Drtio:
    """The DRTIO part of one engine: its destinations and the routed syscalls (see module)."""

    def __init__(self, engine: Any, links: dict[int, LinkSpec]) -> None:
        self.engine = engine
        self.destinations = {d: Destination(d, spec) for d, spec in sorted(links.items())}
        #: satellite-side errors that only the satellite's log shows
        self.satellite_log: list[str] = []

    # ------------------------------------------------------------------ installation
    def install(self) -> None:
        """Route the engine's output and input syscalls through this object."""
        eng = self.engine
        eng.drtio = self
        d = eng.__dict__
        d["_submit"] = self.output
        d["_read"] = self.read
        d["rtio_input_count"] = self.input_count
        eng._swap_output()

    def set_link_down(self, destination: int, down: bool = True) -> None:
        """Force a destination's link down (``--link-down``) or release it."""
        self.destination(destination, "force down").forced_down = down

    def destination(self, number: int, what: str = "use") -> Destination:
        dest = self.destinations.get(number)
        if dest is None:
            raise ValueError(
                "DRTIO destination {} has no link (destinations with a link: {})".format(
                    number, ", ".join(str(d) for d in self.destinations) or "none"
                )
            )
        return dest

    def status(self, number: int) -> bool:
        """``core.get_rtio_destination_status``: 0 is always up; an unknown destination down."""
        if number == 0:
            return True
        dest = self.destinations.get(number)
        return dest is not None and dest.up(self.engine.counter)

    def rtio_init(self) -> None:
        """``core.reset()`` clears the satellites' lanes as well."""
        for dest in self.destinations.values():
            dest.reset_lanes()

    # ------------------------------------------------------------------ outputs
    def output(self, target: int, data: Any) -> None:
        """``rtio_output`` of a system with satellites (destination 0: the engine's own path)."""
        number = target >> 24
        eng = self.engine
        if not number:
            SEDOutputs.rtio_output(eng, target, data)
            return
        ch = target >> 8
        counter = eng.counter + eng._c_out
        ts = eng.now
        dest = self.destinations.get(number)
        if dest is None or not dest.up(counter):
            eng.counter = counter
            eng.note_exception(RTIOException.DESTINATION_UNREACHABLE, ts, ch)
            raise RTIODestinationUnreachable(
                "RTIO destination unreachable, output, at channel 0x{:04x}:{}, {} mu".format(
                    ch, eng.channel_name(ch), ts
                )
            )
        if (ts >> 3) - (UNDERFLOW_MARGIN_MU >> 3) < (counter >> 3):
            eng.counter = counter
            raise eng._underflow(target, ts, counter)
        latency = dest.latency_mu
        arrival = counter + latency
        c = ts >> 3
        space = dest.cached_space
        dest.cached_space = space - 1
        if c < (arrival >> 3) + SATELLITE_MARGIN_COARSE:
            self._satellite_underflow(ch, ts, arrival)
        elif not dest.enqueue(c):
            eng._async(AsyncError.SEQUENCE, ch)
        else:
            self._accept(ch, target, ts, data, counter)
        if space <= 1:
            counter = self._refresh_space(dest, counter)
        eng.counter = counter

    def _accept(self, ch: int, target: int, ts: int, data: Any, counter: int) -> None:
        """The event is in a satellite lane: to its channel's log, as the engine's own path."""
        eng = self.engine
        if ts - counter < eng.min_slack:
            eng._note_slack(ch, ts, counter)
        eng._log_accepted(ch, ts, target & 0xFF, data)

    def _satellite_underflow(self, ch: int, ts: int, arrival: int) -> None:
        counter = arrival & ~7
        msg = "write underflow, channel={}, timestamp={}, counter={}, slack={}".format(
            ch, ts, counter, ts - counter
        )
        self.satellite_log.append(msg)
        self.engine._log_core("[DEST#{}] satellite: {}".format(ch >> 16, msg))

    def _refresh_space(self, dest: Destination, counter: int) -> int:
        """The master asks the satellite for its buffer space until it is not 0; the CPU waits a
        round trip per request. Returns the counter after the answer."""
        latency = dest.latency_mu
        while True:
            dest.space_requests += 1
            at_satellite = counter + latency
            space = dest.free_space(at_satellite)
            counter = at_satellite + latency
            if space > 0:
                dest.cached_space = space
                return counter
            nxt = dest.next_departure()
            if nxt is not None and (nxt << 3) > at_satellite:
                # nothing changes before the next event leaves: the requests until then all
                # answer 0
                rounds = -(-((nxt << 3) - at_satellite) // max(2 * latency, 8))
                dest.space_requests += rounds - 1
                counter += (rounds - 1) * max(2 * latency, 8)

    # ------------------------------------------------------------------ inputs
    def read(self, channel: int, timeout: int | None) -> tuple[int, int]:
        """An input read: the engine's own for destination 0; for a satellite the request and
        the answer each travel one latency."""
        number = channel >> 16
        eng = self.engine
        if not number:
            return InputReads._read(eng, channel, timeout)
        dest = self.destinations.get(number)
        if dest is None or not dest.up(eng.counter):
            eng.counter += eng.costs.rtio_input
            eng.note_exception(RTIOException.DESTINATION_UNREACHABLE, eng.counter, channel)
            raise RTIODestinationUnreachable(
                "RTIO destination unreachable, input, on channel 0x{:04x}:{}".format(
                    channel, eng.channel_name(channel)
                )
            )
        eng.counter += dest.latency_mu
        result = InputReads._read(eng, channel, timeout)
        eng.counter += dest.latency_mu
        return result

    def input_count(self, timeout_mu: int, channel: int) -> int:
        """``TTLInOut.count``: on a satellite every read is a round trip."""
        if not channel >> 16:
            return InputReads.rtio_input_count(self.engine, timeout_mu, channel)
        n = 0
        while self.read(channel, timeout_mu)[0] >= 0:
            n += 1
        return n
