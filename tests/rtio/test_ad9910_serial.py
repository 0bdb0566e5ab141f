# SPDX-License-Identifier: LGPL-3.0-or-later
"""AD9910 serial port of the Urukul decoder: a write cut short (as an RTIO underflow drops the
rest of ``write64``) leaves the chip out of step; the next write is garbled as the datasheet says
(cycles end by their register's width, not by CS) unless ``CPLD.io_rst()`` came first."""

from __future__ import annotations

import logging

import pytest
from artiq.coredevice.urukul import SPI_CONFIG, SPIT_DDS_WR
from artiq.language.core import delay, now_mu
from artiq.language.units import us

from sim.rtio.phy.urukul import UrukulOutOfStep

SPI_CH = 20
CS = 4
PROFILE7 = 0x0E + 7
FTW, POW, ASF = 0x12345607, 0x4321, 0x2ABC  # FTW's low byte 0x07: the FTW register's address


def _cut_after_instruction(core, cpld, dds, instruction: int) -> int:
    """Initialise, then send only ``instruction``'s byte to channel 0 (chip select left low) and
    wait 10 us; returns the time of the cut (mu)."""
    core.reset()
    cpld.init()
    dds.init()
    core.break_realtime()
    t_cut = now_mu()
    cpld.bus.set_config_mu(SPI_CONFIG, 8, SPIT_DDS_WR, CS)
    cpld.bus.write(instruction << 24)
    delay(10 * us)
    return t_cut


def _kernel(env, cut: str, io_rst: bool):
    """Initialise, cut a profile-7 write after its instruction byte (the chip select then held
    low, or moved on to CFG by ``cfg_sw``), optionally ``io_rst``, then a full ``set_mu``."""
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        t_cut = _cut_after_instruction(core, cpld, dds, PROFILE7)  # the rest of write64 dropped
        if cut == "cs_moved":
            cpld.cfg_sw(0, True)
        if io_rst:
            cpld.io_rst()
        dds.set_mu(FTW, pow_=POW, asf=ASF)
        return t_cut

    return k


@pytest.mark.parametrize("cut", ["cs_held", "cs_moved"])
def test_write_after_a_cut_raises_naming_the_chip(env, cut):
    """Without io_rst the IO_UPDATE that would apply the garbled profile stops the run with
    UrukulOutOfStep naming the AD9910, the time of the cut and the remedy."""
    with pytest.raises(UrukulOutOfStep) as err:
        env.run(_kernel(env, cut, io_rst=False))
    msg = str(err.value)
    assert msg.startswith("AD9910 urukul0_ch0: the IO_UPDATE at t=") and "(PROFILE7)" in msg
    assert "--hardware-faithful" in msg
    assert "cut short (RTIO underflow?)" in msg and "call io_rst after catching" in msg
    (t_cut,) = [int(w.split("=")[1]) for w in msg.split() if w.startswith("t=")][1:]
    assert env.engine.dds_states(SPI_CH, CS, t_cut, 1 << 60) == []  # the profile never applied


def test_io_rst_after_the_cut_writes_in_step(env):
    """With io_rst between the cut and the retry the retry lands as written, silently."""
    env.run(_kernel(env, "cs_held", io_rst=True))
    regs = env.get("urukul0_cpld").decoder.dds[CS].regs
    assert regs[PROFILE7] == (ASF << 48) | (POW << 32) | FTW
    state = env.engine.dds_state_at(SPI_CH, CS, 1 << 60)
    assert state.phase_turns == POW / 65536 and state.amplitude == ASF / 0x3FFF


def test_hardware_faithful_garbles_as_the_datasheet_says(make_env, caplog):
    """The retry's 72 bits go on into the cut cycle: PROFILE7 takes the instruction byte, the
    high word and the top 24 bits of the low word (64 bits: the cycle ends); the low word's last
    byte (0x07) is a new instruction, FTW, whose 32 data bits the next write supplies. One
    warning; the garbled profile is what the output plays."""
    env = make_env(hardware_faithful=True)
    caplog.set_level(logging.WARNING)
    t_cut = env.run(_kernel(env, "cs_held", io_rst=False))
    r = env.get("urukul0_cpld").decoder.dds[CS]
    hi = (ASF << 16) | POW
    garbled = (PROFILE7 << 56) | (hi << 24) | (FTW >> 8)
    assert r.regs[PROFILE7] == garbled
    assert (r.port.addr, r.port.read, r.port.nbits) == (0x07, False, 0)  # FTW, no data yet
    assert r.port.out_of_step_since == t_cut + 8  # the instruction byte's transfer
    state = env.engine.dds_state_at(SPI_CH, CS, 1 << 60)
    assert state.phase_turns == ((garbled >> 32) & 0xFFFF) / 65536
    assert state.frequency_hz == (garbled & 0xFFFFFFFF) * r.sysclk / 2**32
    warnings = [rec.getMessage() for rec in caplog.records if "out of step" in rec.getMessage()]
    assert len(warnings) == 1 and "urukul0_ch0" in warnings[0]

    # the next write's instruction byte and high word complete FTW: still out of step
    def again():
        env.core.break_realtime()
        env.get("urukul0_ch0").set_mu(FTW, pow_=POW, asf=ASF)

    env.run(again)
    assert r.regs[0x07] == (PROFILE7 << 24) | (hi >> 8)
    assert r.port.out_of_step_since == t_cut + 8


def test_read_after_a_cut_read_raises(env):
    """A read cut after its instruction byte, then read again: the retry's bits go on into the
    cut cycle, so what the kernel would get is shifted; the run stops at that read."""
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        _cut_after_instruction(core, cpld, dds, PROFILE7 | 0x80)  # the rest of read64 dropped
        return dds.get_mu()

    with pytest.raises(UrukulOutOfStep, match="urukul0_ch0: a read ending at t="):
        env.run(k)
