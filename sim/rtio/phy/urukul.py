# SPDX-License-Identifier: LGPL-3.0-or-later
"""Urukul bus decoder: SPI traffic → CPLD CFG/ATT registers and AD9910 register files; IO_UPDATE
applies the selected profile → the DDS state timeline the physics reads.

Chip selects (``artiq/coredevice/urukul.py``): 1 CFG, 2 ATT, 3 all DDS (multi), 4..7 DDS channel
0..3. AD9910 serial protocol (AD9910 datasheet, "Serial programming";
:mod:`sim.rtio.phy.ad9910_serial`): an 8-bit instruction byte (bit 7 = read, bits 4:0 = register
address) followed by exactly the register's width of data bits, MSB first; the cycle ends by itself
(not at ``SPI_END``), CS high in the middle suspends it, and CFG IO_RST (or RST) resets every
AD9910's serial port. Profile registers 0x0E+p hold ``ASF[61:48] | POW[47:32] | FTW[31:0]``.

CPLD CFG layout of this model (shift register, MSB first; proto 9 sends it as 24 + 28 bits): RF_SW
3:0, LED 7:4, PROFILE 10:8, IO_UPDATE 12, MASK_NU 16:13, CLK_SEL0 17, SYNC_SEL 18, RST 19, IO_RST
20, CLK_SEL1 21, CLK_DIV 23:22, ATT_EN 27:24, OSK 31:28, DRCTL 35:32, DRHOLD 39:36. STA (read while
writing CFG): RF_SW 3:0, SMP_ERR 7:4, PLL_LOCK 11:8, IFC_MODE 15:12, PROTO_REV 22:16.

After power-up CFG selects profile 0 while ARTIQ's drivers write profile 7, and an AD9910 runs
without its PLL until ``init`` configures it: an IO_UPDATE that would apply a written profile of a
Urukul whose CPLD was never configured, or of an AD9910 that was never initialised (CFR3 never
written), raises :class:`UrukulUninitialised` naming the device ("run Startup"). In
hardware-faithful mode (the session's ``hardware_faithful``) the decoder behaves as the hardware
does instead: the output does not change (one warning), or the uninitialised AD9910 plays on.

An AD9910 write cut short (an RTIO underflow drops the rest of ``write64``; the chip select stays
low or moves on) leaves the chip's serial port out of step: the next write is read shifted. An
IO_UPDATE that would apply registers written out of step, or a read returning such bits, raises
:class:`UrukulOutOfStep` naming the AD9910, when the write was cut and the remedy
(``CPLD.io_rst()`` after catching the underflow); in hardware-faithful mode the garbled registers
take effect (one warning).
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from typing import Any

from sim.rtio.channels import Kind
from sim.rtio.phy.ad9910_ram import (
    RAM_DEPTH,
    REG_RAM,
    RamProfile,
    ram_access_address,
    ram_destination,
    ram_enabled,
    ram_playback,
    ram_word_at,
)
from sim.rtio.phy.ad9910_serial import AD9910_REG_WIDTH, SerialPort, register_name
from sim.rtio.phy.dds_timeline import STAMPS, DDSState, DDSTimeline

logger = logging.getLogger(__name__)

__all__ = [
    "UrukulDecoder",
    "DDSTimeline",
    "DDSState",
    "AD9910_REG_WIDTH",
    "CS_CFG",
    "CS_ATT",
    "CS_DDS_MULTI",
    "CS_DDS_CH0",
    "UrukulUninitialised",
    "UrukulOutOfStep",
]

CS_CFG = 1
CS_ATT = 2
CS_DDS_MULTI = 3
CS_DDS_CH0 = 4

_AUX_DAC_DEFAULT = 0x7F
_CFR3 = 0x02
_SERIAL_RESETS = (1 << 19) | (1 << 20)  # CFG RST and IO_RST: the AD9910s' serial ports reset


class UrukulUninitialised(RuntimeError):
    """A pulse through a Urukul CPLD or AD9910 not initialised since power-up."""


class UrukulOutOfStep(UrukulUninitialised):
    """An AD9910 whose serial port is out of step (an SPI write to it cut short, e.g. by an RTIO
    underflow, and not followed by ``CPLD.io_rst()``): an IO_UPDATE would apply, or a read
    returned, bits the driver meant for other registers (:mod:`sim.rtio.phy.ad9910_serial`)."""


class _DDSRegs:
    def __init__(self) -> None:
        self.regs: dict[int, int] = {0x03: _AUX_DAC_DEFAULT}
        self.port = SerialPort()
        self.sysclk = 1e9
        self.profile_written = False  # a profile register written since the last IO_UPDATE
        self.ram: dict[int, int] = {}  # waveform RAM, address → word (sim.rtio.phy.ad9910_ram)
        self.ram_play: tuple[int, RamProfile] | None = None  # start and profile of a playback
        self.ram_until = -(1 << 62)  # time of the last scheduled RAM output step
        # the last state an IO_UPDATE applied from a profile, and its (word, profile, sysclk)
        self.last_state: DDSState | None = None
        self.last_of: tuple[int, int, float] | None = None


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
        #: CFG as this run found it (power-up: 0, every RF switch open), its writes in cfg_log
        self.cfg_initial = 0
        #: the attenuator register as this run found it (None: not written since power-up)
        #: and its writes since, (time the transfer ended, register)
        self.att_initial: int | None = None
        self.att_log: list[tuple[int, int]] = []
        self.cfg_written = False  # CFG configured since power-up
        self.io_update_channel: int | None = None
        self._warned_uninitialised = False
        self._warned_out_of_step = False
        self.selected_cs = 0  # the chip select held low (no SPI_END yet), 0: none
        #: what :meth:`rf_switch` and :meth:`attenuation_db` answer changed last at this stamp
        #: (:data:`STAMPS`; :meth:`changed`), and no entry of their histories is later than
        #: ``t_last`` (mu)
        self.stamp = next(STAMPS)
        self.t_last = -(1 << 62)

    def changed(self, t_mu: int | None = None) -> None:
        """Note a change of CFG's or the attenuators' history (an entry at ``t_mu``, or their
        state as the run found it)."""
        self.stamp = next(STAMPS)
        if t_mu is not None and t_mu > self.t_last:
            self.t_last = t_mu

    def set_sysclk(self, cs: int, sysclk: float) -> None:
        if cs in self.dds:
            self.dds[cs].sysclk = sysclk

    def attach_io_update(self, channel: int) -> None:
        self.io_update_channel = channel
        self.engine.add_output_hook(channel, self._io_update_hook)

    def _io_update_hook(self, ts: int, addr: int, data: Any) -> None:
        if addr == 0 and data:
            self.io_update(ts)

    def sta(self) -> int:
        return (self.cfg & 0xF) | (0xF << 8) | ((self.proto_rev & 0x7F) << 16)

    # SPI slave interface
    def transfer(self, cs: int, bits: int, length: int, flags: int, t0: int, t1: int) -> int:
        if self.selected_cs and self.selected_cs != cs:  # the chip select moved on: CS high
            self._release(self.selected_cs, t0)
        end = flags & 0x02
        self.selected_cs = 0 if end else cs
        if cs == CS_CFG:
            self._cfg_acc = (self._cfg_acc << length) | bits
            out = self.sta() & ((1 << length) - 1)
            if end:
                self.cfg = self._cfg_acc & ((1 << 52) - 1)
                self._cfg_acc = 0
                self.cfg_log.append((t1, self.cfg))
                self.changed(t1)
                self.cfg_written = True
                if self.cfg & _SERIAL_RESETS:  # IO_RST (or RST): every AD9910's serial port
                    for each in self.dds.values():
                        each.port.io_reset()
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
                self.changed(t1)
            return (old >> max(32 - length, 0)) & ((1 << length) - 1)
        if cs == CS_DDS_MULTI:
            for each in self.dds.values():
                self._dds_transfer(each, bits, length, t0, t1)
        elif cs in self.dds:
            out = self._dds_transfer(self.dds[cs], bits, length, t0, t1)
            if end:
                self._release(cs, t1)
            return out
        if end:
            self._release(cs, t1)
        return 0

    def _release(self, cs: int, t: int) -> None:
        """CS of ``cs`` goes high at ``t``: the AD9910s it selects end their chip-select period
        (see :mod:`sim.rtio.phy.ad9910_serial`).

        :raises UrukulOutOfStep: a read cycle completed out of step (its bits are garbled), not
            in hardware-faithful mode."""
        for each in self.dds.values() if cs == CS_DDS_MULTI else [self.dds.get(cs)]:
            if each is None or each.port.selected_since is None:
                continue
            port = each.port
            read = port.period_read
            if not port.end_period(t):
                continue
            chip = next(c for c, r in self.dds.items() if r is each)
            if self.engine.hardware_faithful:
                if not self._warned_out_of_step:
                    self._warned_out_of_step = True
                    logger.warning(self._out_of_step(chip, t, "its next writes are garbled"))
            elif read:
                raise UrukulOutOfStep(
                    self._out_of_step(chip, t, f"a read ending at t={t} mu returned garbled bits")
                )

    def _out_of_step(self, cs: int, t: int, what: str) -> str:
        """The message of an AD9910 whose serial port is out of step: ``what`` happened."""
        port = self.dds[cs].port
        since = port.out_of_step_since
        if since is None:
            since = min(port.garbled.values(), default=t)
        remedy = (
            ""
            if self.engine.hardware_faithful
            else " (or pass --hardware-faithful to play on as the hardware would)"
        )
        return (
            f"AD9910 {self._dds_name(cs)}: {what}: its serial port is out of step since an SPI "
            f"write to it was cut short (RTIO underflow?) at t={since} mu (a chip-select period "
            "ended in the middle of a serial cycle, so the next instruction bytes and data are "
            "read shifted), and stays so until CPLD.io_rst() or CPLD.init(): call io_rst after "
            "catching the underflow, before writing again" + remedy
        )

    def _dds_transfer(self, r: _DDSRegs, bits: int, length: int, t0: int, t1: int) -> int:
        """One SPI transfer into an AD9910's serial port (:mod:`sim.rtio.phy.ad9910_serial`):
        instruction bytes and register or RAM data, as many cycles as the bits make; returns the
        bits it sends back (reads)."""
        port = r.port
        if port.selected_since is None:
            port.begin_period(t0)
        out = 0
        while length:
            if port.addr < 0:
                n = min(8 - port.instruction_bits, length)
                length -= n
                port.instruction = (port.instruction << n) | ((bits >> length) & ((1 << n) - 1))
                port.instruction_bits += n
                out <<= n
                if port.instruction_bits == 8:
                    self._begin_cycle(r)
                continue
            n = min(port.width - port.nbits, length)
            length -= n
            chunk = (bits >> length) & ((1 << n) - 1)
            if port.addr == REG_RAM:
                out = (out << n) | self._ram_bits(r, chunk, n)
            else:
                out = (out << n) | self._register_bits(r, chunk, n, t0)
            if port.nbits == port.width:
                self._end_cycle(r, t1)
        return out

    def _begin_cycle(self, r: _DDSRegs) -> None:
        """The instruction byte is complete: the cycle's register, direction and width."""
        port = r.port
        instruction = port.instruction
        port.addr = instruction & 0x1F
        port.read = bool(instruction & 0x80)
        port.instruction = port.instruction_bits = 0
        port.value = port.nbits = 0
        if port.addr == REG_RAM:
            profile = RamProfile.from_word(r.regs.get(0x0E + self._active_profile(), 0))
            port.ram_profile = profile
            port.width = 32 * ((profile.end - profile.start) % RAM_DEPTH + 1)
        else:
            port.width = AD9910_REG_WIDTH.get(port.addr, 32)

    def _end_cycle(self, r: _DDSRegs, t: int) -> None:
        """The cycle's data bits are complete at ``t``: a register write takes them."""
        port = r.port
        if port.read:
            port.period_read = True
        else:
            if port.addr != REG_RAM:
                r.regs[port.addr] = port.value & ((1 << port.width) - 1)
                if 0x0E <= port.addr <= 0x15:
                    r.profile_written = True
            port.cycle_written(port.addr, t)
        port.addr = -1
        port.value = port.nbits = 0

    def _register_bits(self, r: _DDSRegs, chunk: int, n: int, t: int) -> int:
        """``n`` data bits of a register cycle; returns the register's bits a read sends."""
        port = r.port
        out = 0
        if port.read:
            shift = port.width - port.nbits - n
            out = (self._register_value(r, t) >> shift) & ((1 << n) - 1)
        port.value = (port.value << n) | chunk
        port.nbits += n
        return out

    def _active_profile(self) -> int:
        return (self.cfg >> 8) & 7

    def _ram_bits(self, r: _DDSRegs, chunk: int, n: int) -> int:
        """``n`` data bits of a RAM access through the cycle's profile range, 32 per word (a
        written word is stored when complete); returns the stored words' bits a read sends."""
        port = r.port
        out = 0
        while n:
            offset = port.nbits % 32
            m = min(32 - offset, n)
            n -= m
            address = ram_access_address(port.ram_profile, port.nbits // 32)
            port.nbits += m
            if port.read:
                word = r.ram.get(address, 0)
                out = (out << m) | ((word >> (32 - offset - m)) & ((1 << m) - 1))
                continue
            port.value = (port.value << m) | ((chunk >> n) & ((1 << m) - 1))
            if offset + m == 32:
                r.ram[address] = port.value & 0xFFFFFFFF
                port.value = 0
        return out

    def _register_value(self, r: _DDSRegs, t: int) -> int:
        """A register as a read at ``t`` returns it: FTW during a playback to the frequency is
        the RAM word being played."""
        if r.port.addr == 0x07 and r.ram_play is not None and ram_destination(r.regs) == 0:
            return ram_word_at(t, r.ram_play[0], r.ram, r.ram_play[1], r.sysclk)
        return r.regs.get(r.port.addr, 0)

    def _play_ram(self, cs: int, r: _DDSRegs, profile: int, t: int) -> None:
        """Schedule the RAM playback an IO_UPDATE at ``t`` starts (see ad9910_ram)."""
        prof = RamProfile.from_word(r.regs.get(0x0E + profile, 0))
        steps = ram_playback(t, r.regs, r.ram, prof, r.sysclk, self.engine.ref_period)
        timeline = self.engine.dds_timeline(self.spi_channel, cs)
        for ts, ftw, pow_, asf in steps:
            timeline.add(
                DDSState(ts, ftw * r.sysclk / 2.0**32, pow_ / 65536.0, asf / 0x3FFF, profile)
            )
        r.ram_play = (t, prof)
        r.ram_until = steps[-1][0]

    def io_update(self, t: int) -> None:
        """Apply the selected profile of every channel at ``t`` (IO_UPDATE rising edge).

        :raises UrukulUninitialised: see the module docstring (not in hardware-faithful mode).
        :raises UrukulOutOfStep: it would apply registers an AD9910 took while its serial port was
            out of step (not in hardware-faithful mode: they take effect).
        """
        profile = (self.cfg >> 8) & 7
        key = 0x0E + profile
        eng = self.engine
        error = None
        timelines = eng.dds  # (spi channel, cs) -> DDSTimeline, made on demand
        spi = self.spi_channel
        desync = None
        for cs, r in self.dds.items():
            fresh, r.profile_written = r.profile_written, False  # the writes this pulse is for
            if r.port.garbled:
                if not eng.hardware_faithful and desync is None:
                    names = ", ".join(register_name(a) for a in sorted(r.port.garbled))
                    desync = self._out_of_step(
                        cs,
                        t,
                        f"the IO_UPDATE at t={t} mu would apply registers written out of "
                        f"step ({names})",
                    )
                r.port.garbled = {}
                if not eng.hardware_faithful:
                    continue  # the run stops here: nothing garbled reaches the output
            if r.ram_until > t:  # a RAM ramp still playing stops here
                self.engine.dds_timeline(self.spi_channel, cs).drop(t, r.ram_until)
                r.ram_until = t
            r.ram_play = None
            regs = r.regs
            if ram_enabled(regs):
                self._play_ram(cs, r, profile, t)
                continue
            word = regs.get(key)
            if word is None:
                if fresh and not self.cfg_written:
                    error = error or self._uninitialised_cpld(cs, profile, eng.hardware_faithful)
                continue
            if fresh and _CFR3 not in regs and not eng.hardware_faithful:
                error = error or (
                    f"AD9910 {self._dds_name(cs)} was never initialised since power-up (its PLL "
                    "is not configured): run Startup first (repository/startup.py) with this "
                    "device database and lab (the simulated hardware state is kept per pair), "
                    "or pass --hardware-faithful to play on regardless"
                )
            timeline = timelines.get((spi, cs))
            if timeline is None:
                timeline = eng.dds_timeline(spi, cs)
            last = r.last_state
            if last is not None and r.last_of == (word, profile, r.sysclk):
                timeline.repeat(last, t)  # the same state again (idle, or rewritten alike)
                continue
            ftw = word & 0xFFFFFFFF
            pow_ = (word >> 32) & 0xFFFF
            asf = (word >> 48) & 0x3FFF
            state = DDSState(t, ftw * r.sysclk / 2.0**32, pow_ / 65536.0, asf / 0x3FFF, profile)
            r.last_state, r.last_of = state, (word, profile, r.sysclk)
            timeline.add(state)
        if desync is not None:
            raise UrukulOutOfStep(desync)
        if error is not None:
            raise UrukulUninitialised(error)

    def _uninitialised_cpld(self, cs: int, profile: int, faithful: bool) -> str | None:
        """A written profile is not the active one because CFG was never configured: the error
        message (None in hardware-faithful mode: one warning)."""
        what = (
            f"Urukul CPLD {self._cpld_name()} was never initialised since power-up (CFG "
            f"selects profile {profile}), so the profile written to {self._dds_name(cs)} "
            "does not reach its output"
        )
        if not faithful:
            return what + (
                ": run Startup first (repository/startup.py) with this device database and "
                "lab (the simulated hardware state is kept per pair), or pass "
                "--hardware-faithful to play on with the RF unchanged"
            )
        if not self._warned_uninitialised:
            # as on hardware after power-up: CFG holds profile 0, drivers write profile 7
            self._warned_uninitialised = True
            logger.warning("%s; run the Startup experiment first", what)
        return None

    def _device_db(self) -> dict:
        return self.engine.device_db

    def _cpld_name(self) -> str:
        """The device_db name of this bus's CPLD (else the SPI channel)."""
        spi = self.engine.channel_name(self.spi_channel)
        for name, desc in self._device_db().items():
            if (
                isinstance(desc, dict)
                and desc.get("class") == "CPLD"
                and desc.get("arguments", {}).get("spi_device") == spi
            ):
                return name
        return f"on SPI channel {self.spi_channel} ({spi})"

    def _dds_name(self, cs: int) -> str:
        """Device names of the AD9910 at chip select ``cs`` (the entry first, then aliases)."""
        db = self._device_db()
        names = [
            n
            for n, (kind, ch, extra) in self.engine.names.items()
            if kind == Kind.AD9910 and ch == self.spi_channel and extra.get("cs") == cs
        ]
        names.sort(key=lambda n: not isinstance(db.get(n), dict))
        if not names:
            return f"at chip select {cs} of SPI channel {self.spi_channel}"
        return names[0] + (f" ({', '.join(names[1:])})" if names[1:] else "")

    def rf_sw(self, ch: int) -> bool:
        return bool(self.cfg & (1 << ch))

    def rf_switch(self, cs: int, t_mu: int) -> bool:
        """Whether CFG's RF_SW bit of the AD9910 at chip select ``cs`` is set at ``t_mu`` (the
        last CFG write ending at or before it; the CPLD ORs it with the channel's switch TTL)."""
        i = bisect_right(self.cfg_log, (t_mu, 1 << 62))
        cfg = self.cfg_log[i - 1][1] if i else self.cfg_initial
        return bool(cfg & (1 << (cs - CS_DDS_CH0)))

    def change_times(self, cs: int, t_from_mu: int, t_to_mu: int) -> list[int]:
        """The times ``t_from_mu <= t < t_to_mu`` (mu) of the CFG writes that change the RF_SW
        bit of the AD9910 at chip select ``cs`` and of the attenuator writes that change its
        attenuation, ascending (what :meth:`rf_switch` and :meth:`attenuation_db` answer)."""
        if self.t_last < t_from_mu:
            return []
        bit = 1 << (cs - CS_DDS_CH0)
        shift = 8 * (cs - CS_DDS_CH0)
        out = []
        for log, initial, mask in (
            (self.cfg_log, self.cfg_initial, bit),
            (self.att_log, self.att_initial, 0xFF << shift),
        ):
            i = bisect_left(log, (t_from_mu,))
            prev = log[i - 1][1] if i else initial
            for t, value in log[i:]:
                if t >= t_to_mu:
                    break
                if prev is None or (value ^ prev) & mask:
                    out.append(t)
                prev = value
        return sorted(out)

    def att_mu(self, ch: int) -> int:
        return (self.att >> (8 * ch)) & 0xFF

    def attenuation_db(
        self, cs: int, t_from_mu: int, t_to_mu: int
    ) -> tuple[float | None, list[tuple[int, float]]]:
        """(attenuation of the AD9910 at chip select ``cs`` in force at ``t_from_mu``, its
        changes ``(t_mu, dB)`` with ``t_from_mu < t < t_to_mu``), in dB (ARTIQ's
        ``mu_to_att``: (255 − att_mu)/8); None before the attenuators' first write since
        power-up (their power-up state is not modelled)."""
        shift = 8 * (cs - CS_DDS_CH0)
        reg = self.att_initial
        changes: list[tuple[int, float]] = []
        for t, a in self.att_log:
            if t <= t_from_mu:
                reg = a
            elif t < t_to_mu:
                changes.append((t, (255 - ((a >> shift) & 0xFF)) / 8))
            else:
                break
        return None if reg is None else (255 - ((reg >> shift) & 0xFF)) / 8, changes
