# SPDX-License-Identifier: LGPL-3.0-or-later
"""SPI master PHY (``artiq/gateware/rtio/phy/spi2.py``, driver ``artiq/coredevice/spi2.py``).

Address 1 (config): ``flags | (length-1) << 8 | (div-2) << 16 | cs << 24``; address 0 (data): start
a transfer of ``length`` bits, MSB first from bit 31 (left-aligned). A transfer keeps the PHY busy
for ``((length + 1) * div + 1) * 8`` mu (``spi2.py::update_xfer_duration_mu``); any event that
reaches the PHY while busy is dropped with an RTIO busy error (``rtio_mgt.rs``). With ``SPI_INPUT``
the received bits (right-aligned) become an input event at the transfer end; the input FIFO holds 4
events (``artiq/gateware/eem.py``). Slaves (the Urukul decoder) see each transfer as
``transfer(cs, bits, length, flags, t_start, t_end) -> received bits``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sim.rtio.phy.ttl import INPUT_ARRIVAL_MU

__all__ = ["SPIPhy", "SPI_END", "SPI_INPUT", "xfer_duration_mu"]

SPI_OFFLINE = 0x01
SPI_END = 0x02
SPI_INPUT = 0x04


def xfer_duration_mu(length: int, div: int, ref_period_mu: int = 8) -> int:
    """``((length + 1) * div + 1) * ref_period_mu`` (``spi2.py``)."""
    return ((length + 1) * div + 1) * ref_period_mu


class SPIPhy:
    """One SPI bus: config register, busy tracking, slaves by chip select, read-back events."""

    def __init__(self, engine: Any, channel: int) -> None:
        self.engine = engine
        self.channel = channel
        self.flags = 0
        self.length = 8
        self.div = 2
        self.cs = 0
        self.busy_until = -(1 << 62)
        self.slaves: list[Any] = []
        self.reads: deque[tuple[int, int, int]] = deque()
        self.transfers = 0

    def attach_slave(self, slave: Any) -> None:
        if slave not in self.slaves:
            self.slaves.append(slave)

    def on_output(self, ts: int, addr: int, data: Any) -> None:
        if ts < self.busy_until:
            self.engine.busy_error(self.channel)
            return
        if addr == 1:
            self.flags = data & 0xFF
            self.length = ((data >> 8) & 0x1F) + 1
            self.div = ((data >> 16) & 0xFF) + 2
            self.cs = (data >> 24) & 0xFF
            return
        if addr != 0:
            return
        length, flags = self.length, self.flags
        t_end = ts + ((length + 1) * self.div + 1) * 8  # xfer_duration_mu, inline
        self.busy_until = t_end
        self.transfers += 1
        bits = ((data & 0xFFFFFFFF) >> (32 - length)) & ((1 << length) - 1)
        received = 0
        for s in self.slaves:
            r = s.transfer(self.cs, bits, length, flags, ts, t_end)
            if r:
                received |= r
        if flags & SPI_INPUT:
            self.reads.append((t_end + INPUT_ARRIVAL_MU, t_end, received & 0xFFFFFFFF))

    def input_events(self, t_end: int) -> list[tuple[int, int, int]]:
        out = []
        reads = self.reads
        while reads and reads[0][0] < t_end:
            out.append(reads.popleft())
        return out

    def next_self_event(self) -> int | None:
        return self.reads[0][0] if self.reads else None

    def rtio_reset(self, counter: int) -> None:
        self.busy_until = -(1 << 62)
