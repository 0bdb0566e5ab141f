# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.urukul.CPLD`` (behaviour and timeline costs of
``artiq/coredevice/urukul.py``; CFG/STA layout of :mod:`sim.rtio.phy.urukul`).

Timeline costs (SPI formula ``((length+1)*div+1)*8`` plus 8 mu per ``set_config``): ``cfg_write`` =
896 mu for proto_rev 9 (24 + 28 bits at div 2), 416 mu for proto_rev 8; ``set_all_att_mu`` = 1600
mu.
"""

from __future__ import annotations

from typing import Any

import numpy
from artiq.language.core import at_mu, delay, now_mu

from sim.devices.spi2 import SPI_END, SPI_INPUT
from sim.kernel_builtins import int32
from sim.rtio.phy.urukul import UrukulDecoder
from sim.syscalls import bind_hot

__all__ = [
    "CPLD",
    "SPI_CONFIG",
    "SPIT_CFG_WR",
    "SPIT_CFG_RD",
    "SPIT_ATT_WR",
    "SPIT_ATT_RD",
    "SPIT_DDS_WR",
    "SPIT_DDS_RD",
    "CS_CFG",
    "CS_ATT",
    "CS_DDS_MULTI",
    "CS_DDS_CH0",
    "CS_DDS_CH1",
    "CS_DDS_CH2",
    "CS_DDS_CH3",
    "DEFAULT_PROFILE",
    "STA_PROTO_REV_8",
    "STA_PROTO_REV_9",
    "urukul_sta_rf_sw",
    "urukul_sta_smp_err",
    "urukul_sta_pll_lock",
    "urukul_sta_ifc_mode",
    "urukul_sta_proto_rev",
]

SPI_CONFIG = 0
SPIT_CFG_WR = 2
SPIT_CFG_RD = 16
SPIT_ATT_WR = 6
SPIT_ATT_RD = 16
SPIT_DDS_WR = 2
SPIT_DDS_RD = 16
CS_CFG = 1
CS_ATT = 2
CS_DDS_MULTI = 3
CS_DDS_CH0 = 4
CS_DDS_CH1 = 5
CS_DDS_CH2 = 6
CS_DDS_CH3 = 7
DEFAULT_PROFILE = 7
STA_PROTO_REV_8 = 0x08
STA_PROTO_REV_9 = 0x09

_RF_SW, _LED, _PROFILE, _IO_UPDATE, _MASK_NU = 0, 4, 8, 12, 13
_CLK_SEL0, _SYNC_SEL, _RST, _IO_RST, _CLK_SEL1, _CLK_DIV = 17, 18, 19, 20, 21, 22
_ATT_EN, _OSK, _DRCTL, _DRHOLD = 24, 28, 32, 36


def urukul_sta_rf_sw(sta: int) -> int:
    return sta & 0xF


def urukul_sta_smp_err(sta: int) -> int:
    return (sta >> 4) & 0xF


def urukul_sta_pll_lock(sta: int) -> int:
    return (sta >> 8) & 0xF


def urukul_sta_ifc_mode(sta: int) -> int:
    return (sta >> 12) & 0xF


def urukul_sta_proto_rev(sta: int) -> int:
    return (sta >> 16) & 0x7F


class _RegIOUpdate:
    """IO_UPDATE through the CPLD CFG register (no TTL): two CFG writes."""

    def __init__(self, cpld: "CPLD") -> None:
        self.cpld = cpld

    def pulse_mu(self, duration: int) -> None:
        self.cpld.cfg_write(self.cpld.cfg_reg | (1 << _IO_UPDATE))
        self.cpld.cfg_write(self.cpld.cfg_reg & ~(1 << _IO_UPDATE))

    def pulse(self, duration: float) -> None:
        self.pulse_mu(0)


class CPLD:
    """Urukul CPLD: CFG and attenuator registers on a shared SPI bus."""

    kernel_invariants = {"refclk", "bus", "core", "io_update", "clk_div", "proto_rev"}

    def __init__(
        self,
        dmgr: Any,
        spi_device: str,
        io_update_device: str | None = None,
        dds_reset_device: str | None = None,
        sync_device: str | None = None,
        sync_sel: int = 0,
        clk_sel: int = 0,
        clk_div: int = 0,
        rf_sw: int = 0,
        refclk: float = 125e6,
        att: int = 0x00000000,
        sync_div: int | None = None,
        proto_rev: int = STA_PROTO_REV_9,
        core_device: str = "core",
        **sim_args: Any,
    ) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.refclk = refclk
        self.clk_div = clk_div
        self.proto_rev = proto_rev
        self.bus = dmgr.get(spi_device)
        self.io_update = dmgr.get(io_update_device) if io_update_device else _RegIOUpdate(self)
        self.dds_reset = dmgr.get(dds_reset_device) if dds_reset_device else None
        self.sync = dmgr.get(sync_device) if sync_device else None
        if sync_div is None and sync_device is not None:
            sync_div = 2
        self.sync_div = sync_div
        self.cfg_reg = (
            (rf_sw << _RF_SW)
            | (DEFAULT_PROFILE << _PROFILE)
            | (clk_sel & 1) << _CLK_SEL0
            | (sync_sel << _SYNC_SEL)
            | ((clk_sel >> 1) & 1) << _CLK_SEL1
            | (clk_div << _CLK_DIV)
        )
        self.att_reg = int32(att)
        eng = getattr(self.core, "engine", None)
        self.decoder = None
        if eng is not None:
            phy = eng.channel(self.bus.channel).phy
            dec = next(
                (s for s in getattr(phy, "slaves", []) if isinstance(s, UrukulDecoder)), None
            )
            if dec is None and phy is not None:
                dec = UrukulDecoder(eng, self.bus.channel, proto_rev)
                phy.attach_slave(dec)
                if not isinstance(self.io_update, _RegIOUpdate):  # a TTL, not CFG writes
                    dec.attach_io_update(self.io_update.channel)
            self.decoder = dec

    def cfg_write(self, cfg: int) -> None:
        """Write CFG. Advances the timeline cursor by 896 mu (proto_rev 9) / 416 mu (proto_rev
        8)."""
        if self.proto_rev == STA_PROTO_REV_8:
            self.bus.set_config_mu(SPI_CONFIG | SPI_END, 24, SPIT_CFG_WR, CS_CFG)
            self.bus.write((cfg & 0xFFFFFF) << 8)
        else:
            self.bus.set_config_mu(SPI_CONFIG, 24, SPIT_CFG_WR, CS_CFG)
            self.bus.write(((cfg >> 28) & 0xFFFFFF) << 8)
            self.bus.set_config_mu(SPI_CONFIG | SPI_END, 28, SPIT_CFG_WR, CS_CFG)
            self.bus.write((cfg & 0xFFFFFFF) << 4)
        self.cfg_reg = cfg

    def sta_read(self) -> int:
        """Read STA (rewrites CFG). Blocks until the read completes; advances like ``cfg_write``."""
        if self.proto_rev == STA_PROTO_REV_8:
            self.bus.set_config_mu(SPI_CONFIG | SPI_END | SPI_INPUT, 24, SPIT_CFG_RD, CS_CFG)
            self.bus.write((self.cfg_reg & 0xFFFFFF) << 8)
        else:
            self.bus.set_config_mu(SPI_CONFIG, 24, SPIT_CFG_RD, CS_CFG)
            self.bus.write(((self.cfg_reg >> 28) & 0xFFFFFF) << 8)
            self.bus.set_config_mu(SPI_CONFIG | SPI_END | SPI_INPUT, 28, SPIT_CFG_RD, CS_CFG)
            self.bus.write((self.cfg_reg & 0xFFFFFFF) << 4)
        return self.bus.read()

    def init(self, blind: bool = False) -> None:
        """Check proto_rev (``ValueError("Urukul proto_rev mismatch")``), write CFG with IO_RST
        and then without (the DDS master reset RST is not pulsed, as in ARTIQ: it confuses the
        AD9910), align SYNC. The SPI bus is configured for CFG writes 1 us ahead (as ARTIQ 9
        does, so that its drivers' levels settle). Advances the timeline cursor by about
        1.1 ms."""
        cfg = self.cfg_reg
        self.cfg_reg = cfg | (1 << _IO_RST)
        self.bus.set_config_mu(SPI_CONFIG, 24, SPIT_CFG_WR, CS_CFG)
        delay(1e-6)
        if blind:
            self.cfg_write(self.cfg_reg)
        else:
            proto_rev = urukul_sta_proto_rev(self.sta_read())
            if proto_rev != self.proto_rev:
                raise ValueError("Urukul proto_rev mismatch")
        delay(100e-6)
        self.cfg_write(cfg)
        if self.sync_div:
            at_mu(now_mu() & ~0xF)
            if self.sync is not None:
                self.sync.set_mu(1 << (int(self.sync.acc_width) - self.sync_div))
        delay(1e-3)

    def io_rst(self) -> None:
        self.cfg_write(self.cfg_reg | (1 << _IO_RST))
        self.cfg_write(self.cfg_reg & ~(1 << _IO_RST))

    def cfg_sw(self, channel: int, on: bool) -> None:
        """Set one RF switch bit. Advances the cursor by one ``cfg_write``."""
        c = self.cfg_reg
        c = c | (1 << channel) if on else c & ~(1 << channel)
        self.cfg_write(c)

    def cfg_switches(self, state: int) -> None:
        self.cfg_write((self.cfg_reg & ~0xF) | (state & 0xF))

    def set_profile(self, channel: int, profile: int) -> None:
        """Select the active profile (this model: one profile field for all channels)."""
        self.cfg_write((self.cfg_reg & ~(7 << _PROFILE)) | ((profile & 7) << _PROFILE))

    def _cfg_bit(self, base: int, channel: int, on: bool) -> None:
        """Set or clear one channel's bit of a four-bit CFG field; one ``cfg_write``."""
        bit = 1 << (base + channel)
        self.cfg_write(self.cfg_reg | bit if on else self.cfg_reg & ~bit)

    def _cfg_field(self, base: int, state: int) -> None:
        """Write a four-bit CFG field (bit i: channel i); one ``cfg_write``."""
        self.cfg_write((self.cfg_reg & ~(0xF << base)) | ((state & 0xF) << base))

    def cfg_att_en(self, channel: int, on: bool) -> None:
        """Enable a channel's attenuator latch. Advances the cursor by one ``cfg_write``."""
        self._cfg_bit(_ATT_EN, channel, on)

    def cfg_att_en_all(self, state: int) -> None:
        """Attenuator latch enables of all four channels (bit i: channel i); one ``cfg_write``."""
        self._cfg_field(_ATT_EN, state)

    def cfg_osk(self, channel: int, on: bool) -> None:
        """A channel's OSK pin. Advances the cursor by one ``cfg_write``."""
        self._cfg_bit(_OSK, channel, on)

    def cfg_osk_all(self, state: int) -> None:
        """OSK pins of all four channels; one ``cfg_write``."""
        self._cfg_field(_OSK, state)

    def cfg_drctl(self, channel: int, on: bool) -> None:
        """A channel's DRCTL (digital ramp control) pin; one ``cfg_write``."""
        self._cfg_bit(_DRCTL, channel, on)

    def cfg_drctl_all(self, state: int) -> None:
        """DRCTL pins of all four channels; one ``cfg_write``."""
        self._cfg_field(_DRCTL, state)

    def cfg_drhold(self, channel: int, on: bool) -> None:
        """A channel's DRHOLD (digital ramp hold) pin; one ``cfg_write``."""
        self._cfg_bit(_DRHOLD, channel, on)

    def cfg_drhold_all(self, state: int) -> None:
        """DRHOLD pins of all four channels; one ``cfg_write``."""
        self._cfg_field(_DRHOLD, state)

    def cfg_mask_nu(self, channel: int, on: bool) -> None:
        """Mask a channel from the IO_UPDATE of CFG writes; one ``cfg_write``."""
        self._cfg_bit(_MASK_NU, channel, on)

    def cfg_mask_nu_all(self, state: int) -> None:
        """MASK_NU bits of all four channels; one ``cfg_write``."""
        self._cfg_field(_MASK_NU, state)

    @staticmethod
    def att_to_mu(att: float) -> int:
        """``255 - round(att * 8)``; ``ValueError`` outside 0 .. 31.875 dB."""
        code = 255 - int(round(att * 8))
        if code < 0 or code > 255:
            raise ValueError("Invalid urukul.CPLD attenuation!")
        return code

    @staticmethod
    def mu_to_att(att_mu: int) -> float:
        return (255 - (att_mu & 0xFF)) / 8

    def set_att_mu(self, channel: int, att: int) -> None:
        """Set one channel's attenuation (rewrites all four). Advances the cursor by 1600 mu."""
        a = int(self.att_reg) & ~(0xFF << (8 * channel))
        a |= (int(att) & 0xFF) << (8 * channel)
        self.set_all_att_mu(a)

    def set_all_att_mu(self, att_reg: int) -> None:
        """Write the 32-bit attenuator register. Advances the cursor by 1600 mu."""
        self.bus.set_config_mu(SPI_CONFIG | SPI_END, 32, SPIT_ATT_WR, CS_ATT)
        self.bus.write(int(att_reg) & 0xFFFFFFFF)
        self.att_reg = int32(att_reg)

    def set_att(self, channel: int, att: float) -> None:
        """Set attenuation in dB. Advances the cursor by 1600 mu."""
        self.set_att_mu(channel, self.att_to_mu(att))

    def get_att_mu(self) -> numpy.int32:
        """Read back the attenuator register (two reads, ``delay(10 us)`` between)."""
        self.bus.set_config_mu(SPI_CONFIG | SPI_INPUT, 32, SPIT_ATT_RD, CS_ATT)
        self.bus.write(0)
        delay(10e-6)
        self.bus.set_config_mu(SPI_CONFIG | SPI_END, 32, SPIT_ATT_RD, CS_ATT)
        self.bus.write(int(self.att_reg) & 0xFFFFFFFF)
        self.att_reg = int32(self.bus.read())
        return self.att_reg

    def get_channel_att_mu(self, channel: int) -> int:
        return (int(self.get_att_mu()) >> (channel * 8)) & 0xFF

    def get_channel_att(self, channel: int) -> float:
        return self.mu_to_att(self.get_channel_att_mu(channel))

    def set_sync_div(self, div: int) -> None:
        ftw_max = 1 << 4
        ftw = ftw_max // div
        if self.sync is not None:
            self.sync.set_mu(ftw)
