# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.ad9910.AD9910`` (API and timeline costs of
``artiq/coredevice/ad9910.py``; register semantics of the AD9910 datasheet).

Timeline of the default (continuous phase) ``set_mu``/``set``: ``at_mu(now & ~7)``, ``write64`` of
the profile register (8 + 152 + 8 + 536 + 8 + 536 = 1248 mu at SPIT_DDS_WR = 2),
``io_update.pulse_mu(8)``, ``at_mu(now & ~7)`` ⇒ the cursor advances by **1256 mu** from the
8-aligned start. With a non-continuous phase mode ``set_cfr1`` (704 mu) is written before and after.
"""

from __future__ import annotations

from typing import Any

import numpy
from artiq.language.core import at_mu, delay, delay_mu, now_mu

from sim.devices.ad9910_ram import (
    RAM_MODE_BIDIR_RAMP,
    RAM_MODE_CONT_BIDIR_RAMP,
    RAM_MODE_CONT_RAMPUP,
    RAM_MODE_DIRECTSWITCH,
    RAM_MODE_RAMPUP,
    AD9910RamMixin,
)
from sim.devices.ad9910_sync import AD9910SyncMixin
from sim.devices.spi2 import SPI_END, SPI_INPUT
from sim.devices.urukul import (
    CS_DDS_CH0,
    DEFAULT_PROFILE,
    SPI_CONFIG,
    SPIT_DDS_RD,
    SPIT_DDS_WR,
    urukul_sta_pll_lock,
)
from sim.kernel_builtins import int32, int64
from sim.syscalls import bind_hot

__all__ = [
    "AD9910",
    "PHASE_MODE_CONTINUOUS",
    "PHASE_MODE_ABSOLUTE",
    "PHASE_MODE_TRACKING",
    "RAM_DEST_FTW",
    "RAM_DEST_POW",
    "RAM_DEST_ASF",
    "RAM_DEST_POWASF",
    "RAM_MODE_DIRECTSWITCH",
    "RAM_MODE_RAMPUP",
    "RAM_MODE_BIDIR_RAMP",
    "RAM_MODE_CONT_BIDIR_RAMP",
    "RAM_MODE_CONT_RAMPUP",
    "DEFAULT_PROFILE",
    "_AD9910_REG_CFR1",
    "_AD9910_REG_CFR2",
    "_AD9910_REG_CFR3",
    "_AD9910_REG_AUX_DAC",
    "_AD9910_REG_SYNC",
    "_AD9910_REG_RAMP_LIMIT",
    "_AD9910_REG_RAMP_STEP",
    "_AD9910_REG_RAMP_RATE",
    "_AD9910_REG_FTW",
    "_AD9910_REG_POW",
    "_AD9910_REG_ASF",
    "_AD9910_REG_PROFILE0",
    "_AD9910_REG_PROFILE7",
    "_AD9910_REG_RAM",
]

PHASE_MODE_DEFAULT = -1
PHASE_MODE_CONTINUOUS = 0
PHASE_MODE_ABSOLUTE = 1
PHASE_MODE_TRACKING = 2

RAM_DEST_FTW = 0
RAM_DEST_POW = 1
RAM_DEST_ASF = 2
RAM_DEST_POWASF = 3

_AD9910_REG_CFR1 = 0x00
_AD9910_REG_CFR2 = 0x01
_AD9910_REG_CFR3 = 0x02
_AD9910_REG_AUX_DAC = 0x03
_AD9910_REG_IO_UPDATE = 0x04
_AD9910_REG_FTW = 0x07
_AD9910_REG_POW = 0x08
_AD9910_REG_ASF = 0x09
_AD9910_REG_SYNC = 0x0A
_AD9910_REG_RAMP_LIMIT = 0x0B
_AD9910_REG_RAMP_STEP = 0x0C
_AD9910_REG_RAMP_RATE = 0x0D
_AD9910_REG_PROFILE0 = 0x0E
_AD9910_REG_PROFILE7 = 0x15
_AD9910_REG_RAM = 0x16


def _ftw_of(ftw_per_hz: float, frequency: float) -> int:
    """Frequency (Hz) → FTW, wrapped to a signed 32-bit value as on the device."""
    v = int(round(ftw_per_hz * frequency)) & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _pow_of(turns: float) -> int:
    """Phase (turns) → 16-bit POW."""
    return int(round(turns * 0x10000)) & 0xFFFF


def _asf_of(amplitude: float) -> int:
    """Fractional amplitude → 14-bit ASF; ``ValueError`` outside 0..1."""
    code = int(round(float(amplitude) * 0x3FFF))
    if code < 0 or code > 0x3FFF:
        raise ValueError("Invalid AD9910 fractional amplitude!")
    return code


class AD9910(AD9910RamMixin, AD9910SyncMixin):
    """AD9910 DDS channel on an Urukul (RAM mode: :mod:`sim.devices.ad9910_ram`; sync
    calibration: :mod:`sim.devices.ad9910_sync`).

    :param chip_select: 4..7 (3 = all channels).
    :param pll_n: PLL multiplier; ``sysclk = refclk / [4, 1, 2, 4][clk_div] * pll_n`` ≤ 1 GHz.
    """

    kernel_invariants = {"chip_select", "cpld", "core", "bus", "ftw_per_hz", "sysclk_per_mu"}

    def __init__(
        self,
        dmgr: Any,
        chip_select: int,
        cpld_device: str,
        sw_device: str | None = None,
        pll_n: int = 40,
        pll_cp: int = 7,
        pll_vco: int = 5,
        sync_delay_seed: Any = -1,
        io_update_delay: Any = 0,
        pll_en: int = 1,
        **sim_args: Any,
    ) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.cpld = dmgr.get(cpld_device)
        self.core = self.cpld.core
        self.bus = self.cpld.bus
        if not 3 <= chip_select <= 7:
            raise ValueError("AD9910 chip_select must be 3..7")
        self.chip_select = chip_select
        if chip_select == 3:
            self.chip_select_idx = -1
        else:
            self.chip_select_idx = chip_select - CS_DDS_CH0
        self.sw = dmgr.get(sw_device) if sw_device else None
        # the CPLD's IO_UPDATE TTL, or IO_UPDATE through its CFG register
        self.io_update = self.cpld.io_update
        clk = self.cpld.refclk / [4, 1, 2, 4][self.cpld.clk_div]
        self.pll_en = pll_en
        self.pll_n = pll_n
        self.pll_vco = pll_vco
        self.pll_cp = pll_cp
        if pll_en:
            sysclk = clk * pll_n
            if not (clk <= 60e6 and 12 <= pll_n <= 127 and 0 <= pll_vco <= 5):
                raise ValueError("Invalid AD9910 PLL configuration")
        else:
            sysclk = clk
        if sysclk > 1e9:
            raise ValueError("AD9910 sysclk above 1 GHz")
        self.sysclk = sysclk
        self.ftw_per_hz = (1 << 32) / sysclk
        self.sysclk_per_mu = int(round(sysclk * self.core.ref_period))
        self.sync_data = (sync_delay_seed, io_update_delay)
        self.io_update_delay = io_update_delay if isinstance(io_update_delay, int) else 0
        self.phase_mode = PHASE_MODE_CONTINUOUS
        dec = getattr(self.cpld, "decoder", None)
        if dec is not None:
            dec.set_sysclk(chip_select, sysclk)

    # ------------------------------------------------------------ conversions (portable)
    def frequency_to_ftw(self, frequency: float) -> numpy.int32:
        return numpy.int32(_ftw_of(self.ftw_per_hz, frequency))

    def ftw_to_frequency(self, ftw: int) -> float:
        return (int(ftw) & 0xFFFFFFFF) / self.ftw_per_hz

    def turns_to_pow(self, turns: float) -> numpy.int32:
        return numpy.int32(_pow_of(turns))

    def pow_to_turns(self, pow_: int) -> float:
        return pow_ / 0x10000

    def amplitude_to_asf(self, amplitude: float) -> numpy.int32:
        return numpy.int32(_asf_of(amplitude))

    def asf_to_amplitude(self, asf: int) -> float:
        return asf / float(0x3FFF)

    # ------------------------------------------------------------ register access
    def write16(self, addr: int, data: int) -> None:
        """Advances the timeline cursor by 8 + 280 mu (24-bit transfer incl. instruction)."""
        self.bus.config_write_mu(
            SPI_CONFIG | SPI_END,
            24,
            SPIT_DDS_WR,
            self.chip_select,
            (addr << 24) | ((int(data) & 0xFFFF) << 8),
        )

    def write32(self, addr: int, data: int) -> None:
        """Advances the timeline cursor by 8 + 152 + 8 + 536 = 704 mu."""
        write = self.bus.config_write_mu  # set_config_mu + write, as ARTIQ's driver does
        write(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select, addr << 24)
        write(SPI_CONFIG | SPI_END, 32, SPIT_DDS_WR, self.chip_select, int(data) & 0xFFFFFFFF)

    def write64(self, addr: int, data_high: int, data_low: int) -> None:
        """Advances the timeline cursor by 1248 mu."""
        write = self.bus.config_write_mu  # set_config_mu + write, as ARTIQ's driver does
        write(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select, addr << 24)
        write(SPI_CONFIG, 32, SPIT_DDS_WR, self.chip_select, int(data_high) & 0xFFFFFFFF)
        write(SPI_CONFIG | SPI_END, 32, SPIT_DDS_WR, self.chip_select, int(data_low) & 0xFFFFFFFF)

    def read32(self, addr: int) -> int:
        """Blocking register read."""
        self.bus.set_config_mu(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select)
        self.bus.write((addr | 0x80) << 24)
        self.bus.set_config_mu(SPI_CONFIG | SPI_END | SPI_INPUT, 32, SPIT_DDS_RD, self.chip_select)
        self.bus.write(0)
        return self.bus.read()

    def read64(self, addr: int) -> numpy.int64:
        """Blocking 64-bit register read."""
        self.bus.set_config_mu(SPI_CONFIG, 8, SPIT_DDS_WR, self.chip_select)
        self.bus.write((addr | 0x80) << 24)
        self.bus.set_config_mu(SPI_CONFIG | SPI_INPUT, 32, SPIT_DDS_RD, self.chip_select)
        self.bus.write(0)
        self.bus.set_config_mu(SPI_CONFIG | SPI_END | SPI_INPUT, 32, SPIT_DDS_RD, self.chip_select)
        self.bus.write(0)
        hi = self.bus.read()
        lo = self.bus.read()
        return int64(((int(hi) & 0xFFFFFFFF) << 32) | (int(lo) & 0xFFFFFFFF))

    def set_cfr1(
        self,
        power_down: int = 0,
        phase_autoclear: int = 0,
        drg_load_lrr: int = 0,
        drg_autoclear: int = 0,
        phase_clear: int = 0,
        internal_profile: int = 0,
        ram_destination: int = 0,
        ram_enable: int = 0,
        manual_osk_external: int = 0,
        osk_enable: int = 0,
        select_auto_osk: int = 0,
    ) -> None:
        """Write CFR1 (sdio input only). Advances the timeline cursor by 704 mu."""
        self.write32(
            _AD9910_REG_CFR1,
            (ram_enable << 31)
            | (ram_destination << 29)
            | (manual_osk_external << 23)
            | (internal_profile << 17)
            | (drg_load_lrr << 15)
            | (drg_autoclear << 14)
            | (phase_autoclear << 13)
            | (phase_clear << 11)
            | (osk_enable << 9)
            | (select_auto_osk << 8)
            | (power_down << 4)
            | 2,
        )

    def set_cfr2(
        self,
        asf_profile_enable: int = 1,
        drg_enable: int = 0,
        effective_ftw: int = 1,
        sync_validation_disable: int = 0,
        matched_latency_enable: int = 0,
    ) -> None:
        """Write CFR2. Advances the timeline cursor by 704 mu."""
        self.write32(
            _AD9910_REG_CFR2,
            (asf_profile_enable << 24)
            | (drg_enable << 19)
            | (effective_ftw << 16)
            | (matched_latency_enable << 22)
            | (sync_validation_disable << 5),
        )

    def init(self, blind: bool = False) -> None:
        """Initialise: SDIO mode, AUX_DAC check (``ValueError("Urukul AD9910 AUX_DAC mismatch")``),
        CFR2/CFR3, PLL lock (``ValueError("PLL lock timeout")``). Advances the cursor by ~56 ms."""
        delay(50e-3)
        self.set_cfr1()
        self.cpld.io_update.pulse(1e-3)
        delay(1e-3)
        if not blind:
            aux_dac = self.read32(_AD9910_REG_AUX_DAC)
            if aux_dac & 0xFF != 0x7F:
                raise ValueError("Urukul AD9910 AUX_DAC mismatch")
            delay(50e-6)
        self.set_cfr2()
        cfr3 = (
            0x0807C000
            | (self.pll_vco << 24)
            | (self.pll_cp << 19)
            | (self.pll_en << 8)
            | (self.pll_n << 1)
        )
        self.write32(_AD9910_REG_CFR3, cfr3 | 0x400)
        self.cpld.io_update.pulse(1e-6)
        self.write32(_AD9910_REG_CFR3, cfr3)
        self.cpld.io_update.pulse(1e-6)
        if blind:
            delay(100e-3)
        else:
            for _ in range(100):
                sta = self.cpld.sta_read()
                delay(1e-3)  # ARTIQ's order: the slack after each poll, the locked one too
                if urukul_sta_pll_lock(sta) & (1 << self.chip_select_idx):
                    break
            else:
                raise ValueError("PLL lock timeout")
        delay(10e-6)

    def power_down(self, bits: int = 0b1111) -> None:
        self.set_cfr1(power_down=bits)
        self.cpld.io_update.pulse(1e-6)

    # ------------------------------------------------------------ profiles
    def set_phase_mode(self, phase_mode: int) -> None:
        self.phase_mode = phase_mode

    def set_mu(
        self,
        ftw: int = 0,
        pow_: int = 0,
        asf: int = 0x3FFF,
        phase_mode: int = PHASE_MODE_DEFAULT,
        ref_time_mu: int = -1,
        profile: int = DEFAULT_PROFILE,
        ram_destination: int = -1,
    ) -> int:
        """Write a profile and pulse IO_UPDATE. Advances the timeline cursor by 1256 mu (continuous
        phase mode, from the 8-aligned start); returns the POW written."""
        if phase_mode == PHASE_MODE_DEFAULT:
            phase_mode = self.phase_mode
        at_mu(now_mu() & ~7)
        if phase_mode != PHASE_MODE_CONTINUOUS:
            self.set_cfr1(phase_autoclear=1)
            if phase_mode == PHASE_MODE_TRACKING and ref_time_mu < 0:
                ref_time_mu = 0
            if ref_time_mu >= 0:
                dt = numpy.int32(now_mu()) - numpy.int32(ref_time_mu)
                pow_ += (int(dt) * int(ftw) * self.sysclk_per_mu) >> 16
        if ram_destination == -1:
            self.write64(
                _AD9910_REG_PROFILE0 + profile,
                ((int(asf) & 0x3FFF) << 16) | (int(pow_) & 0xFFFF),
                ftw,
            )
        else:  # RAM mode: the parameters the RAM does not drive go to their registers
            if ram_destination != RAM_DEST_FTW:
                self.set_ftw(ftw)
            if ram_destination not in (RAM_DEST_POWASF, RAM_DEST_ASF):
                self.set_asf(asf)
            if ram_destination not in (RAM_DEST_POWASF, RAM_DEST_POW):
                self.set_pow(pow_)
        delay_mu(self.io_update_delay)
        self.cpld.io_update.pulse_mu(8)
        at_mu(now_mu() & ~7)
        if phase_mode != PHASE_MODE_CONTINUOUS:
            self.set_cfr1()
        return pow_ & 0xFFFF

    def set(
        self,
        frequency: float = 0.0,
        phase: float = 0.0,
        amplitude: float = 1.0,
        phase_mode: int = PHASE_MODE_DEFAULT,
        ref_time_mu: int = -1,
        profile: int = DEFAULT_PROFILE,
        ram_destination: int = -1,
    ) -> float:
        """``set_mu`` in SI units (Hz, turns, fraction). Advances the cursor by 1256 mu; returns the
        phase in turns."""
        # the conversions' values as Python ints (``frequency_to_ftw`` etc. return numpy.int32)
        pow_ = self.set_mu(
            _ftw_of(self.ftw_per_hz, frequency),
            _pow_of(phase),
            _asf_of(amplitude),
            phase_mode,
            ref_time_mu,
            profile,
            ram_destination,
        )
        return self.pow_to_turns(pow_)

    def get_mu(self, profile: int = DEFAULT_PROFILE) -> tuple[int, int, int]:
        """``(ftw, pow, asf)`` read back from a profile register (blocking)."""
        data = int(self.read64(_AD9910_REG_PROFILE0 + profile))
        return int(int32(data)), (data >> 32) & 0xFFFF, (data >> 48) & 0x3FFF

    def get(self, profile: int = DEFAULT_PROFILE) -> tuple[float, float, float]:
        ftw, pow_, asf = self.get_mu(profile)
        return self.ftw_to_frequency(ftw), self.pow_to_turns(pow_), self.asf_to_amplitude(asf)

    def set_att_mu(self, att: int) -> None:
        """Advances the timeline cursor by 1600 mu."""
        self.cpld.set_att_mu(self.chip_select_idx, att)

    def set_att(self, att: float) -> None:
        """Attenuation in dB. Advances the timeline cursor by 1600 mu."""
        self.cpld.set_att(self.chip_select_idx, att)

    def get_att_mu(self) -> int:
        return self.cpld.get_channel_att_mu(self.chip_select_idx)

    def get_att(self) -> float:
        return self.cpld.get_channel_att(self.chip_select_idx)

    def cfg_sw(self, state: bool) -> None:
        """CPLD RF switch bit of this channel. Advances the cursor by one ``cfg_write``."""
        self.cpld.cfg_sw(self.chip_select_idx, state)

    def cfg_osk(self, state: bool) -> None:
        """This channel's OSK pin (CPLD CFG); one ``cfg_write``."""
        self.cpld.cfg_osk(self.chip_select_idx, state)

    def cfg_drctl(self, state: bool) -> None:
        """This channel's DRCTL pin (CPLD CFG); one ``cfg_write``."""
        self.cpld.cfg_drctl(self.chip_select_idx, state)

    def cfg_drhold(self, state: bool) -> None:
        """This channel's DRHOLD pin (CPLD CFG); one ``cfg_write``."""
        self.cpld.cfg_drhold(self.chip_select_idx, state)

    def cfg_mask_nu(self, state: bool) -> None:
        """Mask this channel from CFG-register IO_UPDATEs; one ``cfg_write``."""
        self.cpld.cfg_mask_nu(self.chip_select_idx, state)

    def cfg_att_en(self, state: bool) -> None:
        """This channel's attenuator latch enable; one ``cfg_write``."""
        self.cpld.cfg_att_en(self.chip_select_idx, state)

    def set_profile(self, profile: int) -> None:
        self.cpld.set_profile(self.chip_select_idx, profile)
