# SPDX-License-Identifier: LGPL-3.0-or-later
"""SPI master, Urukul CPLD and AD9910: timeline costs, busy errors, decoded DDS state."""

from __future__ import annotations

import logging

import pytest
from artiq.coredevice.spi2 import SPI_END, SPI_INPUT
from artiq.language.core import delay, delay_mu, now_mu
from artiq.language.units import MHz, us

SPI_CH = 20


@pytest.mark.parametrize("length,expected", [(8, 152), (16, 280), (24, 408), (28, 472), (32, 536)])
def test_spi_xfer_duration(env, length, expected):
    """xfer_duration_mu = ((length+1)*div+1)*8 (div 2); set_config_mu advances 8 mu."""
    core, spi = env.core, env.get("spi_urukul0")

    def k():
        core.reset()
        t0 = now_mu()
        spi.set_config_mu(SPI_END, length, 2, 1)
        t1 = now_mu()
        spi.write(0)
        return t1 - t0, now_mu() - t1

    assert env.run(k) == (8, expected)


def test_spi_config_range_checks(env):
    """length outside 1..32 or div outside 2..257 → ValueError."""
    spi = env.get("spi_urukul0")
    with pytest.raises(ValueError):
        env.run(lambda: spi.set_config_mu(0, 33, 2, 1))
    with pytest.raises(ValueError):
        env.run(lambda: spi.set_config_mu(0, 8, 1, 1))


def test_spi_busy_error(env, caplog):
    """A write while the previous transfer is in progress is a busy error (logged, async)."""
    core, spi = env.core, env.get("spi_urukul0")

    def k():
        core.reset()
        spi.set_config_mu(SPI_END, 32, 2, 1)
        spi.write(0)
        delay_mu(-200)
        spi.write(0)

    with caplog.at_level(logging.WARNING):
        env.run(k)
    assert env.session.async_errors == ["RTIO busy error involving channel 0x0014:spi_urukul0"]
    assert "busy error(s) reported during kernel execution" in caplog.text


def test_cfg_write_and_att_costs(env):
    """cfg_write (proto 9) advances 896 mu; set_all_att_mu 1600 mu; set_att decodes to the
    register."""
    core, cpld = env.core, env.get("urukul0_cpld")

    def k():
        core.reset()
        t0 = now_mu()
        cpld.cfg_write(cpld.cfg_reg)
        t1 = now_mu()
        cpld.set_all_att_mu(0x11223344)
        t2 = now_mu()
        cpld.set_att(0, 10.0)
        return t1 - t0, t2 - t1

    assert env.run(k) == (896, 1600)
    assert cpld.decoder.att_mu(0) == 255 - 80
    assert cpld.decoder.att_mu(3) == 0x11


def test_cpld_init_and_sta(env):
    """init reads STA: proto_rev 9 matches; a mismatch raises ValueError."""
    core, cpld = env.core, env.get("urukul0_cpld")

    def k():
        core.reset()
        cpld.init()

    env.run(k)
    cpld.proto_rev = 8

    def k2():
        core.reset()
        cpld.init()

    with pytest.raises(ValueError, match="Urukul proto_rev mismatch"):
        env.run(k2)


def test_cpld_init_pulses_io_rst_not_master_reset(env):
    """init resets the DDS serial interfaces (CFG IO_RST high, then low) but never raises CFG RST:
    ARTIQ's init leaves the AD9910s' master reset alone, since pulsing it confuses them
    (ARTIQ issue 940)."""
    core, cpld = env.core, env.get("urukul0_cpld")
    rst, io_rst = 1 << 19, 1 << 20

    def k():
        core.reset()
        cpld.init()

    env.run(k)
    words = [cfg for _, cfg in cpld.decoder.cfg_log]
    assert words and not any(w & rst for w in words)
    assert words[0] & io_rst and not words[-1] & io_rst


def test_ad9910_set_advances_1256(make_env):
    """The default (continuous-phase) set() advances the cursor by 1256 mu from the aligned start
    (timing only: the Urukul is left uninitialised, as the hardware would play it)."""
    env = make_env(hardware_faithful=True)
    core, dds = env.core, env.get("urukul0_ch0")

    def k():
        core.reset()
        delay_mu(3)
        t0 = now_mu() & ~7
        dds.set(100 * MHz, amplitude=0.5, phase=0.25)
        return now_mu() - t0

    assert env.run(k) == 1256


def test_ad9910_state_model(env):
    """IO_UPDATE applies the profile: the DDS state timeline gives frequency, phase, amplitude."""
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        core.reset()
        cpld.init()  # selects profile 7 in CFG
        dds.init()
        dds.set(100 * MHz, phase=0.25, amplitude=0.5)
        t1 = now_mu()
        delay(10 * us)
        dds.set(80 * MHz)
        return t1

    t1 = env.run(k)
    states = env.engine.dds_states(SPI_CH, 4, 0, 1 << 60)
    assert len(states) == 2
    s0 = states[0]
    assert abs(s0.frequency_hz - 100e6) < 0.3
    assert s0.phase_turns == 0.25 and abs(s0.amplitude - 0.5) < 1e-4 and s0.profile == 7
    assert s0.t_mu == t1 - 8  # the IO_UPDATE pulse starts 8 mu before the end of set()
    assert env.engine.dds_state_at(SPI_CH, 4, t1 + 5000) == s0
    assert abs(env.engine.dds_state_at(SPI_CH, 4, 1 << 60).frequency_hz - 80e6) < 0.3
    assert env.engine.resolve_device("urukul0_ch0") == (
        "ad9910",
        SPI_CH,
        {"cs": 4, "sw": "ttl_urukul0_sw0"},
    )


def test_ad9910_io_update_repeats_idle_channels(env):
    """Every IO_UPDATE applies every channel's profile: a channel not written since (or rewritten
    alike) gets the same state again at each update's time, read back with that time."""
    ch1_entry = dict(env.dmgr.db["urukul0_ch0"])
    ch1_entry["arguments"] = {"pll_n": 32, "chip_select": 5, "cpld_device": "urukul0_cpld"}
    env.dmgr.db["urukul0_ch1"] = ch1_entry
    core, cpld = env.core, env.get("urukul0_cpld")
    ch0, ch1 = env.get("urukul0_ch0"), env.get("urukul0_ch1")

    def k():
        core.reset()
        cpld.init()
        ch0.init()
        ch1.init()
        ch1.set(50 * MHz, phase=0.5, amplitude=0.25)
        updates = []
        for f in (100 * MHz, 100 * MHz, 90 * MHz):
            delay(10 * us)
            ch0.set(f, phase=0.125)
            updates.append(now_mu() - 8)  # the IO_UPDATE pulse starts 8 mu before set() ends
        return updates

    updates = env.run(k)
    idle = env.engine.dds_states(SPI_CH, 5, updates[0], 1 << 60)
    assert [s.t_mu for s in idle] == updates
    assert {(s.frequency_hz, s.phase_turns, s.amplitude) for s in idle} == {
        (idle[0].frequency_hz, 0.5, idle[0].amplitude)
    }
    assert abs(idle[0].frequency_hz - 50e6) < 0.3 and abs(idle[0].amplitude - 0.25) < 1e-4
    assert env.engine.dds_state_at(SPI_CH, 5, updates[1] + 3) == idle[1]
    rewritten = env.engine.dds_states(SPI_CH, 4, updates[0], 1 << 60)
    assert [s.t_mu for s in rewritten] == updates
    assert [round(s.frequency_hz / 1e6, 3) for s in rewritten] == [100.0, 100.0, 90.0]


def test_dds_timeline_repeat_out_of_order():
    """A state repeated before the last one is inserted in time order, read with its own time."""
    from sim.physics.view import DDSState
    from sim.rtio.phy.dds_timeline import DDSTimeline

    tl = DDSTimeline()
    a, b = DDSState(10, 1e6, 0.0, 1.0), DDSState(30, 2e6, 0.0, 1.0)
    tl.add(a)
    tl.add(b)
    tl.repeat(a, 20)
    tl.repeat(b, 40)
    assert tl.states(0, 100) == [a, DDSState(20, 1e6, 0.0, 1.0), b, DDSState(40, 2e6, 0.0, 1.0)]
    assert (
        tl.state_at(25) == DDSState(20, 1e6, 0.0, 1.0) and tl.state_at(25) is tl.states(20, 21)[0]
    )


def test_ad9910_init_and_readback(env):
    """init (~56 ms) checks AUX_DAC and PLL lock; get_mu reads back the profile register."""
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        core.reset()
        cpld.init()
        t0 = now_mu()
        dds.init()
        t_init = now_mu() - t0
        core.break_realtime()
        ftw = dds.frequency_to_ftw(25 * MHz)
        dds.set_mu(ftw, pow_=0x1234, asf=0x2000)
        got = dds.get_mu()
        return t_init, ftw, got

    t_init, ftw, got = env.run(k)
    assert 50_000_000 < t_init < 60_000_000
    assert got == (ftw, 0x1234, 0x2000)


def test_ad9910_amplitude_range(env):
    """amplitude outside [0, 1] → ValueError("Invalid AD9910 fractional amplitude!")."""
    dds = env.get("urukul0_ch0")
    with pytest.raises(ValueError, match="Invalid AD9910 fractional amplitude!"):
        dds.amplitude_to_asf(1.1)


def test_spi_read_fifo_depth(env):
    """SPI input FIFO holds 4 events: the 5th unread transfer overflows."""
    from artiq.coredevice.exceptions import RTIOOverflow

    core, spi = env.core, env.get("spi_urukul0")

    def k():
        core.reset()
        for _ in range(5):
            spi.set_config_mu(SPI_END | SPI_INPUT, 8, 2, 1)
            spi.write(0)
        core.wait_until_mu(now_mu())
        spi.read()

    with pytest.raises(RTIOOverflow):
        env.run(k)
