# SPDX-License-Identifier: LGPL-3.0-or-later
"""Urukul bus decoder: SPI traffic → CPLD CFG/ATT registers and AD9910 register files; IO_UPDATE
applies the selected profile → the DDS state timeline the physics reads.

Chip selects (``artiq/coredevice/urukul.py``): 1 CFG, 2 ATT, 3 all DDS (multi), 4..7 DDS channel 0..3.
AD9910 serial protocol (AD9910 datasheet, "Serial programming"): an 8-bit instruction byte (bit 7 =
read, bits 4:0 = register address) followed by the register's bytes, MSB first, until CS is released
(``SPI_END``). Profile registers 0x0E+p hold ``ASF[61:48] | POW[47:32] | FTW[31:0]``.

CPLD CFG layout of this model (shift register, MSB first; proto 9 sends it as 24 + 28 bits): RF_SW
3:0, LED 7:4, PROFILE 10:8, IO_UPDATE 12, MASK_NU 16:13, CLK_SEL0 17, SYNC_SEL 18, RST 19, IO_RST 20,
CLK_SEL1 21, CLK_DIV 23:22, ATT_EN 27:24, OSK 31:28, DRCTL 35:32, DRHOLD 39:36. STA (read while writing
CFG): RF_SW 3:0, SMP_ERR 7:4, PLL_LOCK 11:8, IFC_MODE 15:12, PROTO_REV 22:16.
"""
from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from typing import Any

logger = logging.getLogger(__name__)

try:
    from sim.physics.view import DDSState
except ImportError:  # pragma: no cover - physics package absent
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class DDSState:  # type: ignore[no-redef]
        t_mu: int
        frequency_hz: float
        phase_turns: float
        amplitude: float
        profile: int = 0

__all__ = ["UrukulDecoder", "DDSTimeline", "DDSState", "AD9910_REG_WIDTH", "CS_CFG", "CS_ATT",
           "CS_DDS_MULTI", "CS_DDS_CH0"]

CS_CFG = 1
CS_ATT = 2
CS_DDS_MULTI = 3
CS_DDS_CH0 = 4

#: AD9910 register widths in bits (datasheet register map)
AD9910_REG_WIDTH = {0x00: 32, 0x01: 32, 0x02: 32, 0x03: 32, 0x04: 32, 0x07: 32, 0x08: 16,
                    0x09: 32, 0x0A: 32, 0x0B: 64, 0x0C: 64, 0x0D: 32,
                    **{0x0E + p: 64 for p in range(8)}, 0x16: 32}
_AUX_DAC_DEFAULT = 0x7F


class DDSTimeline:
    """Time-ordered AD9910 states of one channel."""

    def __init__(self) -> None:
        self.t: list[int] = []
        self.s: list[DDSState] = []

    def add(self, state: DDSState) -> None:
        if self.t and state.t_mu < self.t[-1]:
            i = bisect_right(self.t, state.t_mu)
            self.t.insert(i, state.t_mu)
            self.s.insert(i, state)
        else:
            self.t.append(state.t_mu)
            self.s.append(state)

    def states(self, t_from: int, t_to: int) -> list[DDSState]:
        return self.s[bisect_left(self.t, t_from):bisect_left(self.t, t_to)]

    def state_at(self, t: int) -> DDSState | None:
        i = bisect_right(self.t, t)
        return self.s[i - 1] if i else None


class _DDSRegs:
    def __init__(self) -> None:
        self.regs: dict[int, int] = {0x03: _AUX_DAC_DEFAULT}
        self.addr = -1
        self.read = False
        self.value = 0
        self.nbits = 0
        self.sysclk = 1e9


class UrukulDecoder:
    """Slave on an Urukul SPI bus (see module doc). ``proto_rev`` is reported in STA."""

    def __init__(self, engine: Any, spi_channel: int, proto_rev: int = 0x09) -> None:
        self.engine = engine
        self.spi_channel = spi_channel
        self.proto_rev = proto_rev
        self.cfg = 0
        self.att = 0
        self._cfg_acc = 0
        self._att_acc = 0
        self.dds = {cs: _DDSRegs() for cs in range(CS_DDS_CH0, CS_DDS_CH0 + 4)}
        self.cfg_log: list[tuple[int, int]] = []
        self.att_log: list[tuple[int, int]] = []
        self._warned_uninitialised = False

    def set_sysclk(self, cs: int, sysclk: float) -> None:
        if cs in self.dds:
            self.dds[cs].sysclk = sysclk

    def attach_io_update(self, channel: int) -> None:
        self.engine.add_output_hook(channel, self._io_update_hook)

    def _io_update_hook(self, ts: int, addr: int, data: Any) -> None:
        if addr == 0 and data:
            self.io_update(ts)

    def sta(self) -> int:
        return (self.cfg & 0xF) | (0xF << 8) | ((self.proto_rev & 0x7F) << 16)

    # SPI slave interface
    def transfer(self, cs: int, bits: int, length: int, flags: int, t0: int, t1: int) -> int:
        end = flags & 0x02
        if cs == CS_CFG:
            self._cfg_acc = (self._cfg_acc << length) | bits
            out = self.sta() & ((1 << length) - 1)
            if end:
                self.cfg = self._cfg_acc & ((1 << 52) - 1)
                self._cfg_acc = 0
                self.cfg_log.append((t1, self.cfg))
                if self.cfg & (1 << 12):
                    self.io_update(t1)
            return out
        if cs == CS_ATT:
            old = self.att
            self._att_acc = ((self._att_acc << length) | bits) & 0xFFFFFFFF
            if end:
                self.att = self._att_acc
                self._att_acc = 0
                self.att_log.append((t1, self.att))
            return (old >> max(32 - length, 0)) & ((1 << length) - 1)
        if cs == CS_DDS_MULTI:
            for regs in self.dds.values():
                self._dds_transfer(regs, bits, length, end)
            return 0
        regs = self.dds.get(cs)
        if regs is None:
            return 0
        return self._dds_transfer(regs, bits, length, end)

    @staticmethod
    def _dds_transfer(r: _DDSRegs, bits: int, length: int, end: int) -> int:
        out = 0
        if r.addr < 0:
            if length != 8:
                return 0
            r.addr = bits & 0x1F
            r.read = bool(bits & 0x80)
            r.value = 0
            r.nbits = 0
        else:
            width = AD9910_REG_WIDTH.get(r.addr, 32)
            if r.read:
                cur = r.regs.get(r.addr, 0)
                shift = width - r.nbits - length
                out = (cur >> shift) & ((1 << length) - 1) if shift >= 0 else 0
            r.value = (r.value << length) | bits
            r.nbits += length
        if end:
            if not r.read and r.addr >= 0 and r.nbits:
                width = AD9910_REG_WIDTH.get(r.addr, 32)
                r.regs[r.addr] = r.value & ((1 << width) - 1)
            r.addr = -1
        return out

    def io_update(self, t: int) -> None:
        """Apply the selected profile of every channel at ``t`` (IO_UPDATE rising edge)."""
        profile = (self.cfg >> 8) & 7
        eng = self.engine
        for cs, r in self.dds.items():
            word = r.regs.get(0x0E + profile)
            if word is None:
                if r.regs and not self.cfg_log and not self._warned_uninitialised:
                    # as on hardware after power-up: CFG holds profile 0, drivers write profile 7
                    self._warned_uninitialised = True
                    logger.warning("Urukul on SPI channel %d: a DDS profile was written but the "
                                   "CPLD was never initialised since power-up (profile %d active), "
                                   "so the output does not change; run the Startup experiment "
                                   "first (in the same simulation session)",
                                   self.spi_channel, profile)
                continue
            ftw = word & 0xFFFFFFFF
            pow_ = (word >> 32) & 0xFFFF
            asf = (word >> 48) & 0x3FFF
            state = DDSState(t, ftw * r.sysclk / 2.0 ** 32, pow_ / 65536.0, asf / 0x3FFF, profile)
            eng.dds_timeline(self.spi_channel, cs).add(state)

    def rf_sw(self, ch: int) -> bool:
        return bool(self.cfg & (1 << ch))

    def att_mu(self, ch: int) -> int:
        return (self.att >> (8 * ch)) & 0xFF
