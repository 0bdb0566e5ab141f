# SPDX-License-Identifier: LGPL-3.0-or-later
"""AD9910 serial port state between SPI transfers (AD9910 datasheet, "Serial programming").

A communication cycle is an 8-bit instruction byte (bit 7 = read, bits 4:0 = register address)
then exactly the addressed register's width of data bits (RAM, register 0x16: one 32-bit word per
address of the active profile's range); the cycle then ends by itself and the next 8 bits are a
new instruction byte, even with CS still low. CS going high in the middle of a cycle suspends it
(it resumes when CS is low again); only IO_RESET (the Urukul CPLD's CFG IO_RST bit, ARTIQ's
``CPLD.io_rst()``, also pulsed by ``CPLD.init()``) or a master reset returns the port to
"expecting an instruction".

ARTIQ's drivers send one whole cycle per chip-select period (CS low, transfers, ``SPI_END``). A
chip-select period that begins or ends in the middle of a cycle (an RTIO underflow dropped the
rest of a write, and the write was retried, or the chip select moved on) leaves the port *out of
step*: the registers its cycles complete hold bits the driver meant for others. :class:`SerialPort`
records that (:meth:`begin_period`, :meth:`end_period`) so that the Urukul decoder can name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AD9910_REG_WIDTH", "SerialPort", "register_name"]

#: AD9910 register widths in bits (datasheet register map)
AD9910_REG_WIDTH = {
    0x00: 32,
    0x01: 32,
    0x02: 32,
    0x03: 32,
    0x04: 32,
    0x07: 32,
    0x08: 16,
    0x09: 32,
    0x0A: 32,
    0x0B: 64,
    0x0C: 64,
    0x0D: 32,
    **{0x0E + p: 64 for p in range(8)},
    0x16: 32,
}

_REGISTER_NAMES = {
    0x00: "CFR1",
    0x01: "CFR2",
    0x02: "CFR3",
    0x03: "AUX_DAC",
    0x04: "IO_UPDATE_RATE",
    0x07: "FTW",
    0x08: "POW",
    0x09: "ASF",
    0x0A: "SYNC",
    0x0B: "RAMP_LIMIT",
    0x0C: "RAMP_STEP",
    0x0D: "RAMP_RATE",
    **{0x0E + p: f"PROFILE{p}" for p in range(8)},
    0x16: "RAM",
}


def register_name(addr: int) -> str:
    """The datasheet name of register ``addr``."""
    return _REGISTER_NAMES.get(addr, f"register 0x{addr:02X}")


@dataclass
class SerialPort:
    """One AD9910's serial port: the cycle in progress and the chip-select period framing.

    ``addr`` is the register of the cycle in progress (-1: expecting an instruction, of which
    ``instruction_bits`` bits have arrived), ``width`` its data bits and ``nbits`` those received
    (``value``: the bits of a register write, or of the current RAM word). ``selected_since`` is
    when CS went low (mu; None while high), ``period_broken`` whether this period began in the
    middle of a cycle, ``period_writes`` the registers whose cycles completed in it (register →
    time, mu), ``period_read`` whether a read cycle completed in it. ``out_of_step_since`` is when
    a period last ended in the middle of a cycle (None once a period begins and ends in step);
    ``garbled`` the registers written out of step since the last IO_UPDATE (register → time)."""

    addr: int = -1
    read: bool = False
    instruction: int = 0
    instruction_bits: int = 0
    width: int = 0
    nbits: int = 0
    value: int = 0
    ram_profile: Any = None
    selected_since: int | None = None
    period_broken: bool = False
    period_writes: dict[int, int] = field(default_factory=dict)
    period_read: bool = False
    out_of_step_since: int | None = None
    garbled: dict[int, int] = field(default_factory=dict)

    def at_boundary(self) -> bool:
        """Expecting an instruction byte, none of its bits received."""
        return self.addr < 0 and self.instruction_bits == 0

    def begin_period(self, t: int) -> None:
        """CS goes low at ``t`` (mu)."""
        self.selected_since = t
        self.period_broken = not self.at_boundary()
        self.period_writes = {}
        self.period_read = False

    def cycle_written(self, addr: int, t: int) -> None:
        """A write cycle to ``addr`` completed at ``t`` (its data bits are in the register)."""
        self.period_writes[addr] = t
        if self.period_broken:
            self.garbled[addr] = t

    def end_period(self, t: int) -> bool:
        """CS goes high at ``t`` (mu). True when the period was out of step (began or ended in
        the middle of a cycle): its writes are garbled, and the port out of step since the
        period began (the write cut short)."""
        start = t if self.selected_since is None else self.selected_since
        self.selected_since = None
        broken = self.period_broken or not self.at_boundary()
        if not broken:
            self.out_of_step_since = None
            return False
        self.garbled.update(self.period_writes)
        if not self.at_boundary() and self.out_of_step_since is None:
            self.out_of_step_since = start
        return True

    def io_reset(self) -> None:
        """IO_RESET: expecting an instruction; registers already written keep their bits."""
        self.addr, self.instruction, self.instruction_bits = -1, 0, 0
        self.width = self.nbits = self.value = 0
        self.period_broken = False
        self.out_of_step_since = None
