# SPDX-License-Identifier: LGPL-3.0-or-later
"""Per-channel output logs and their lazy resolution (replacement and collisions).

The output network releases, per channel and coarse cycle, at most one event
(``artiq/gateware/rtio/sed/output_network.py``, ``output_driver.py``): events of one channel that
meet in the same coarse cycle are *replaced* (the later submission wins) when the PHY allows
replacement and address and fine timestamp are identical; otherwise they *collide* and the channel
outputs nothing in that cycle (the collision is logged, ``artiq/firmware/runtime/rtio_mgt.rs``).

The engine appends submissions to :attr:`ChannelState.raw` as ``(timestamp_mu, address, data)``
tuples in submission order. A TTL pulse (``ttl.pulse``'s common case) is logged compactly, as
its two timestamps, plain ints in :attr:`ChannelState.log` (no tuple per event); reading
:attr:`ChannelState.raw` turns them into their tuples ``(t, 0, 1)``, ``(t2, 0, 0)`` first, in
place, once. ``log`` has one entry per submission either way: its length, emptiness and the
last event (:meth:`ChannelState.last_event`) need no tuples.

As long as a channel's coarse timestamps strictly increase, no two events can meet and ``raw``
*is* the resolved log (the common case: no copy, no work). A non-increasing coarse timestamp flags
the channel; its resolved log is then computed on demand by sorting and grouping.

A channel's (or named device's) :class:`Kind` says what PHY it is; its :attr:`Kind.trace` what the
VCD file and :mod:`~sim.rtio.peek` show of it. Which device_db class has which kind is
:data:`sim.registry.DEVICE_CLASSES`.
"""

from __future__ import annotations

import enum
from itertools import cycle, repeat
from typing import Any, Callable

__all__ = ["ChannelState", "Kind", "Trace"]


class Trace(enum.Enum):
    """What the VCD file and peeks show of a device of a kind."""

    LEVEL = "level"  # an output's level (TTL-like: wire ``0``/``1``)
    INPUT = "input"  # an input's edges and events (``in``, ``gate``/``count``, ...)
    ENTANGLER = "entangler"  # the entangler core's runs, heralds and registers
    DDS = "dds"  # an AD9910's DDS states (frequency, phase, amplitude, switch)
    NONE = "none"  # nothing (an SPI bus)


class Kind(enum.StrEnum):
    """The kind of an RTIO channel or named device; the value is its name in the lab description
    (``Lab.validate``), engine tables and messages."""

    TTL_OUT = "ttl_out"
    TTL_INOUT = "ttl_inout"
    SPI = "spi"
    EDGE_COUNTER = "edge_counter"
    CLKGEN = "clkgen"
    ENTANGLER = "entangler"
    AD9910 = "ad9910"  # a DDS channel on an Urukul's SPI bus (a named device, no channel)
    UNKNOWN = "unknown"  # a channel no device declared

    @property
    def replaces(self) -> bool:
        """The PHY has ``enable_replace`` (``artiq/gateware/rtio/channel.py`` defaults: TTL PHYs
        keep the default True, SPI/edge counter and most others set it False)."""
        return self in _REPLACE_KINDS

    @property
    def trace(self) -> Trace:
        """What the VCD file and peeks show of a device of this kind."""
        return _TRACES[self]


_REPLACE_KINDS = frozenset((Kind.TTL_OUT, Kind.TTL_INOUT, Kind.CLKGEN, Kind.UNKNOWN))
_TRACES = {
    Kind.TTL_OUT: Trace.LEVEL,
    Kind.CLKGEN: Trace.LEVEL,
    Kind.UNKNOWN: Trace.LEVEL,
    Kind.TTL_INOUT: Trace.INPUT,
    Kind.EDGE_COUNTER: Trace.INPUT,
    Kind.ENTANGLER: Trace.ENTANGLER,
    Kind.AD9910: Trace.DDS,
    Kind.SPI: Trace.NONE,
}


class ChannelState:
    """Everything the engine knows about one RTIO channel's output side."""

    __slots__ = (
        "channel",
        "name",
        "kind",
        "log",
        "pend",
        "max_c",
        "flagged",
        "flag_c",
        "hook",
        "replace",
        "_res",
        "_res_len",
        "checked",
        "phy",
        "input",
        "level_view",
    )

    def __init__(self, channel: int, name: str = "unknown", kind: Kind = Kind.UNKNOWN) -> None:
        self.channel = channel
        self.name = name
        self.kind = Kind(kind)
        #: the submissions, tuples and compact pulses (see the module docstring); read
        #: :attr:`raw` for tuples only
        self.log: list[Any] = []
        #: the index from which ``log`` may hold compact pulses (None: it holds none)
        self.pend: int | None = None
        #: the latest coarse timestamp logged, in mu (``ts & -8``, as the SED lanes keep them)
        self.max_c = -(1 << 62)
        self.flagged = False
        self.flag_c = -(1 << 62)  # largest coarse time (mu) any out-of-order event may share
        self.hook: Callable[[int, int, int], None] | None = None
        self.replace = self.kind.replaces
        self._res: list[tuple[int, int, int]] = []
        self._res_len = -1
        self.checked = 0
        self.phy: Any = None
        self.input: Any = None
        self.level_view: Any = None

    @property
    def raw(self) -> list[tuple[int, int, int]]:
        """The submissions as ``(timestamp_mu, address, data)`` tuples, in submission order
        (the compact pulses of :attr:`log` turned into tuples first)."""
        if self.pend is not None:
            self._expand()
        return self.log

    @raw.setter
    def raw(self, events: list[tuple[int, int, int]]) -> None:
        self.log = events
        self.pend = None

    def _expand(self) -> None:
        """Turn the compact pulses of :attr:`log` into their tuples, in place: from :attr:`pend`
        on, each run of ints is whole pulses (rising, falling timestamp) between tuples."""
        log = self.log
        start = self.pend
        self.pend = None
        seg = log[start:]
        if tuple not in set(map(type, seg)):  # (only pulses since: the common case)
            log[start:] = zip(seg, repeat(0), cycle((1, 0)))
            return
        out: list[tuple[int, int, int]] = []
        rise = True
        for e in seg:
            if e.__class__ is tuple:
                out.append(e)
            else:
                out.append((e, 0, 1) if rise else (e, 0, 0))
                rise = not rise
        log[start:] = out

    def last_event(self) -> tuple[int, int, int] | None:
        """The last submission as a tuple (None if none), without turning compact pulses into
        tuples (a compact entry last is a pulse's falling edge)."""
        log = self.log
        if not log:
            return None
        e = log[-1]
        return e if e.__class__ is tuple else (e, 0, 0)

    def set_kind(self, kind: Kind) -> None:
        self.kind = Kind(kind)
        self.replace = self.kind.replaces

    def drop_after(self, cc: int) -> None:
        """``rtio_init``: events of coarse time after ``cc`` (still waiting in the SED lanes) are
        flushed and never reach the PHY."""
        log = self.log
        if not log:
            return
        last = log[-1]  # (a compact entry is a timestamp)
        if ((last[0] if last.__class__ is tuple else last) >> 3) > cc or self.flagged:
            raw = self.raw
            kept = [e for e in raw if (e[0] >> 3) <= cc]
            if len(kept) != len(raw):
                self.raw = kept
                self._res_len = -1
                self.checked = min(self.checked, len(kept))
                if not self.flagged:
                    self.max_c = kept[-1][0] & -8 if kept else -(1 << 62)

    def compact(self, final_c: int) -> list[int]:
        """Fold the final part of a flagged log into its resolution, so that later reads are O(1).

        Coarse cycles below ``final_c`` can receive no further events (they would underflow), so
        once ``final_c`` is past :attr:`flag_c` every out-of-order event is final: the log becomes
        its resolution (replacements applied, collided groups dropped) followed by the in-order
        tail, which is strictly increasing, and the channel is no longer flagged.

        :return: coarse timestamps of collisions not reported before (for the core log)
        """
        if not self.flagged or final_c << 3 <= self.flag_c:
            return []
        found: list[int] = []
        res = self.resolved(found)
        head = [e for e in res if (e[0] >> 3) < final_c]
        tail = [e for e in self.raw if (e[0] >> 3) >= final_c]
        self.raw = head + tail
        self.checked = len(self.raw)
        self.flagged = False
        self._res_len = -1
        return found

    def resolved(self, collisions: list[int] | None = None) -> list[tuple[int, int, int]]:
        """The events the PHY actually receives, in time order (at most one per coarse cycle).

        :param collisions: if given, receives the coarse timestamps of collided groups that contain
            an event submitted at index ≥ :attr:`checked` (new since the last check).
        """
        raw = self.raw
        if not self.flagged:
            return raw
        n = len(raw)
        if n == self._res_len and collisions is None:
            return self._res
        order = sorted(range(n), key=lambda i: (raw[i][0] >> 3, i))
        out: list[tuple[int, int, int]] = []
        replace = self.replace
        checked = self.checked
        i = 0
        while i < n:
            first = order[i]
            c = raw[first][0] >> 3
            j = i + 1
            while j < n and raw[order[j]][0] >> 3 == c:
                j += 1
            if j == i + 1:
                out.append(raw[first])
            else:
                group = order[i:j]
                ts0, a0, _ = raw[group[0]]
                same = all(raw[k][0] == ts0 and raw[k][1] == a0 for k in group)
                if same and replace:
                    out.append(raw[group[-1]])  # replacement: highest sequence number wins
                elif collisions is not None and max(group) >= checked:
                    collisions.append(c)
            i = j
        self._res = out
        self._res_len = n
        return out
