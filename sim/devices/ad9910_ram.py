# SPDX-License-Identifier: LGPL-3.0-or-later
"""AD9910 RAM mode and the IO_UPDATE-applied FTW/POW/ASF registers, the part of ARTIQ's
``artiq.coredevice.ad9910.AD9910`` API that drives the waveform RAM (mixed into
:class:`sim.devices.ad9910.AD9910`).

The RAM itself, its serial access order and its playback into the DDS state timeline (and so into
the physics of the beam the channel drives) are modelled by the Urukul decoder
(:mod:`sim.rtio.phy.ad9910_ram`); these methods produce the same SPI traffic as ARTIQ's driver, so
they cost the same timeline: ``write_ram``/``read_ram`` 8 + 152 mu for the instruction, then per
32-bit word 8 mu once and 536 mu per word (SPI ``div`` 2 for writes, 16 for reads).
"""

from __future__ import annotations

from typing import Any

from sim.devices.spi2 import SPI_END, SPI_INPUT
from sim.devices.urukul import SPI_CONFIG, SPIT_DDS_RD, SPIT_DDS_WR
from sim.kernel_builtins import int32

__all__ = [
    "AD9910RamMixin",
    "RAM_MODE_DIRECTSWITCH",
    "RAM_MODE_RAMPUP",
    "RAM_MODE_BIDIR_RAMP",
    "RAM_MODE_CONT_BIDIR_RAMP",
    "RAM_MODE_CONT_RAMPUP",
]

RAM_MODE_DIRECTSWITCH = 0
RAM_MODE_RAMPUP = 1
RAM_MODE_BIDIR_RAMP = 2
RAM_MODE_CONT_BIDIR_RAMP = 3
RAM_MODE_CONT_RAMPUP = 4

_REG_FTW, _REG_POW, _REG_ASF = 0x07, 0x08, 0x09
_REG_PROFILE0, _REG_RAM = 0x0E, 0x16
_READ_PRELOAD = 8  # reads kept in flight by read_ram, as ARTIQ's driver does


class AD9910RamMixin:
    """RAM profiles, RAM access and conversions, FTW/POW/ASF registers (see module doc)."""

    bus: Any
    chip_select: int
    io_update: Any

    # the host class's register access and conversions
    write16: Any
    write32: Any
    write64: Any
    read32: Any
    frequency_to_ftw: Any
    ftw_to_frequency: Any
    turns_to_pow: Any
    pow_to_turns: Any
    amplitude_to_asf: Any
    asf_to_amplitude: Any

    def read16(self, addr: int) -> int:
        """Read a 16-bit register (blocking)."""
        self.bus.set_config_mu(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select)
        self.bus.write((addr | 0x80) << 24)
        self.bus.set_config_mu(SPI_CONFIG | SPI_END | SPI_INPUT, 16, SPIT_DDS_RD, self.chip_select)
        self.bus.write(0)
        return self.bus.read()

    # ------------------------------------------------------------ RAM
    def set_profile_ram(
        self,
        start: int,
        end: int,
        step: int = 1,
        profile: int = 0,
        nodwell_high: int = 0,
        zero_crossing: int = 0,
        mode: int = RAM_MODE_RAMPUP,
    ) -> None:
        """Write a RAM profile: addresses ``start``..``end`` (inclusive, 10 bit), ``step`` in
        SYNC_CLK cycles (4 ns at 1 GHz SYSCLK), ``mode`` (``RAM_MODE_*``). Advances the cursor
        by one ``write64`` (1248 mu)."""
        hi = (step << 8) | (end >> 2)
        lo = ((end & 3) << 30) | (start << 14) | (nodwell_high << 5) | (zero_crossing << 3) | mode
        self.write64(_REG_PROFILE0 + profile, hi, lo)

    def write_ram(self, data: list[Any]) -> None:
        """Write ``data`` to the RAM through the active profile's range (its end address first);
        the profile must be selected and applied before."""
        self.bus.set_config_mu(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select)
        self.bus.write(_REG_RAM << 24)
        self.bus.set_config_mu(SPI_CONFIG, 32, SPIT_DDS_WR, self.chip_select)
        for word in data[:-1]:
            self.bus.write(int(word) & 0xFFFFFFFF)
        self.bus.set_config_mu(SPI_CONFIG | SPI_END, 32, SPIT_DDS_WR, self.chip_select)
        self.bus.write(int(data[-1]) & 0xFFFFFFFF)

    def read_ram(self, data: list[Any]) -> None:
        """Fill ``data`` from the RAM through the active profile's range (blocking reads, eight
        transfers kept in flight)."""
        self.bus.set_config_mu(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select)
        self.bus.write((_REG_RAM | 0x80) << 24)
        n = len(data) - 1
        if n > 0:
            self.bus.set_config_mu(SPI_CONFIG | SPI_INPUT, 32, SPIT_DDS_RD, self.chip_select)
        preload = min(n, _READ_PRELOAD)
        for i in range(n):
            self.bus.write(0)
            if i >= preload:
                data[i - preload] = self.bus.read()
        self.bus.set_config_mu(SPI_CONFIG | SPI_INPUT | SPI_END, 32, SPIT_DDS_RD, self.chip_select)
        self.bus.write(0)
        for i in range(preload + 1):
            data[n - preload + i] = self.bus.read()

    def frequency_to_ram(self, frequency: list[float], ram: list[Any]) -> None:
        """RAM words (FTW) for a frequency playback, Hz → ``ram`` in place."""
        for i, f in enumerate(frequency):
            ram[i] = self.frequency_to_ftw(f)

    def turns_to_ram(self, turns: list[float], ram: list[Any]) -> None:
        """RAM words (POW in bits 31:16) for a phase playback."""
        for i, t in enumerate(turns):
            ram[i] = int32(int(self.turns_to_pow(t)) << 16)

    def amplitude_to_ram(self, amplitude: list[float], ram: list[Any]) -> None:
        """RAM words (ASF in bits 31:18) for an amplitude playback."""
        for i, a in enumerate(amplitude):
            ram[i] = int32(int(self.amplitude_to_asf(a)) << 18)

    def turns_amplitude_to_ram(
        self, turns: list[float], amplitude: list[float], ram: list[Any]
    ) -> None:
        """RAM words (POW 31:16, ASF 15:2) for a phase and amplitude playback."""
        for i in range(len(ram)):
            pow_, asf = int(self.turns_to_pow(turns[i])), int(self.amplitude_to_asf(amplitude[i]))
            ram[i] = int32((pow_ << 16) | (asf << 2))

    # ------------------------------------------------------------ FTW/POW/ASF registers
    def set_ftw(self, ftw: int) -> None:
        """Write the FTW register (used by RAM playback to another destination); 704 mu."""
        self.write32(_REG_FTW, ftw)

    def set_asf(self, asf: int) -> None:
        """Write the ASF register (ASF in bits 15:2); 704 mu."""
        self.write32(_REG_ASF, int(asf) << 2)

    def set_pow(self, pow_: int) -> None:
        """Write the POW register; 296 mu."""
        self.write16(_REG_POW, pow_)

    def get_ftw(self) -> int:
        """Read the FTW register (blocking)."""
        return self.read32(_REG_FTW)

    def get_asf(self) -> int:
        """Read the ASF register (blocking)."""
        return self.read32(_REG_ASF) >> 2

    def get_pow(self) -> int:
        """Read the POW register (blocking)."""
        return self.read16(_REG_POW)

    def set_frequency(self, frequency: float) -> None:
        """``set_ftw`` in Hz (takes effect at the next IO_UPDATE)."""
        self.set_ftw(self.frequency_to_ftw(frequency))

    def set_amplitude(self, amplitude: float) -> None:
        """``set_asf`` as a fraction of full scale."""
        self.set_asf(self.amplitude_to_asf(amplitude))

    def set_phase(self, turns: float) -> None:
        """``set_pow`` in turns."""
        self.set_pow(self.turns_to_pow(turns))

    def get_frequency(self) -> float:
        return self.ftw_to_frequency(self.get_ftw())

    def get_amplitude(self) -> float:
        return self.asf_to_amplitude(self.get_asf())

    def get_phase(self) -> float:
        return self.pow_to_turns(self.get_pow())
