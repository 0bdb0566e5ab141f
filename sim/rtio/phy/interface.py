# SPDX-License-Identifier: LGPL-3.0-or-later
"""What the RTIO engine may ask of a channel's PHY, beyond holding it.

A PHY takes part in what it implements, declared here once: the engine checks a PHY against these
protocols (:func:`implements`) when the channel is declared
(:meth:`sim.rtio.engine.RTIOEngine.add_channel`) and keeps the answer, never probing attributes
later. All times are RTIO machine units (mu).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = [
    "InputSource",
    "OutputObserver",
    "Resettable",
    "SelfTimed",
    "WaitsQuietly",
    "implements",
]

#: (PHY class, protocol) → whether the class has the protocol's methods
_CHECKED: dict[tuple[type, type], bool] = {}


def implements(phy: object, protocol: type) -> bool:
    """Whether ``phy``'s class has the methods ``protocol`` declares (decided once per class: a
    structural ``isinstance`` walks the protocol's members on every call)."""
    key = (type(phy), protocol)
    known = _CHECKED.get(key)
    if known is None:
        names = [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
        known = _CHECKED[key] = all(callable(getattr(key[0], n, None)) for n in names)
    return known


class OutputObserver(Protocol):
    """Sees every accepted submission on its channel at once (a gateware core's registers, an SPI
    master's shift register)."""

    def on_output(self, ts: int, addr: int, data: Any) -> None:
        """The submission ``data`` to ``addr`` with timestamp ``ts`` (mu) was accepted."""
        ...


class InputSource(Protocol):
    """Produces input events: the channel gets an input FIFO fed by them."""

    def input_events(self, t_end: int) -> list[tuple[int, int, int]]:
        """New events ``(arrival, timestamp, data)`` arriving before ``t_end`` (mu), in order,
        each returned once."""
        ...


class SelfTimed(Protocol):
    """An input source that knows when it next produces an event of its own accord (a sample, a
    gate's end, an SPI transfer), which bounds a blocking read's look-ahead exactly."""

    def next_self_event(self) -> int | None:
        """The time (mu) of its next self-generated event, or None if none is due."""
        ...


class WaitsQuietly(Protocol):
    """An input source that can say until when it produces nothing, so a count that reads it need
    not ask it before then (the same events and draws)."""

    def quiet_until(self, t_need: int) -> int:
        """A time (mu) before which :meth:`InputSource.input_events` gives nothing, as long as
        nothing is submitted meanwhile; it may stop short of ``t_need``."""
        ...


class Resettable(Protocol):
    """Has state in the ``rio`` domain that ``rtio_init`` resets (gate sensitivities, a core's
    running state)."""

    def rtio_reset(self, counter: int) -> None:
        """``rtio_init`` at RTIO counter ``counter`` (mu)."""
        ...
