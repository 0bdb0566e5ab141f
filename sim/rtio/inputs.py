# SPDX-License-Identifier: LGPL-3.0-or-later
"""Input FIFOs (``artiq/gateware/rtio/input_collector.py``).

Each input channel has a FIFO of ``depth`` events (64 by default, ``artiq/gateware/rtio/channel.py``;
4 for SPI-type channels on Kasli, ``artiq/gateware/eem.py``). An event that arrives while the FIFO is
full is dropped and sets a sticky overflow flag; the next read reports the overflow (the kernel raises
``RTIOOverflow``) without consuming an event and clears the flag, so later reads return the older,
buffered events. Events stay in the FIFO across kernels until ``core.reset()`` (which clears the FIFO
contents; the overflow flag survives, m-labs/artiq#2083).

Events are produced lazily by the channel's PHY (:meth:`input_events`), never ahead of the time the
engine needs them. ``pending`` holds events that the PHY produced but that have not yet arrived.
"""
from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["InputChannel", "DEFAULT_FIFO_DEPTH", "SPI_FIFO_DEPTH"]

DEFAULT_FIFO_DEPTH = 64
SPI_FIFO_DEPTH = 4


class InputChannel:
    """FIFO + sticky overflow of one input channel; ``phy`` provides ``input_events(t_end)``."""

    __slots__ = ("channel", "depth", "fifo", "pending", "overflow", "phy", "t_gen")

    def __init__(self, channel: int, phy: Any, depth: int = DEFAULT_FIFO_DEPTH) -> None:
        self.channel = channel
        self.depth = depth
        self.phy = phy
        self.fifo: deque[tuple[int, int]] = deque()
        self.pending: deque[tuple[int, int, int]] = deque()
        self.overflow = False
        self.t_gen = -(1 << 62)

    def generate(self, t_end: int) -> None:
        """Ask the PHY for all events that arrive before ``t_end`` (mu, RTIO counter time)."""
        if t_end <= self.t_gen:
            return
        self.t_gen = t_end
        new = self.phy.input_events(t_end)
        if new:
            self.pending.extend(new)

    def fill(self, counter: int) -> None:
        """Move every event that has arrived by ``counter`` into the FIFO (dropping on overflow)."""
        self.generate(counter + 1)
        pending = self.pending
        if not pending:
            return
        fifo = self.fifo
        depth = self.depth
        while pending and pending[0][0] <= counter:
            _, ts, data = pending.popleft()
            if len(fifo) >= depth:
                self.overflow = True
            else:
                fifo.append((ts, data))

    def next_arrival(self, t_end: int) -> int | None:
        """Arrival time of the next event arriving before ``t_end``, or None."""
        self.generate(t_end)
        if self.pending and self.pending[0][0] < t_end:
            return self.pending[0][0]
        return None

    def reset(self) -> None:
        """``rtio_init``: discard buffered and in-flight events (the overflow flag is kept)."""
        self.fifo.clear()
        self.pending.clear()
