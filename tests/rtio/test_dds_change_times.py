# SPDX-License-Identifier: LGPL-3.0-or-later
"""The view's change times of an AD9910's RF (``PhyViews.dds_change_times``) and its watch on a
set of them (``PhyViews.dds_watch``): the times at which ``dds_state_at``, ``dds_attenuation``
or ``dds_rf_switch`` of that channel change (its own state, attenuation, CFG RF_SW bit), not the
IO_UPDATEs that apply its state again for another channel's write nor the other channels'
attenuator or CFG changes. A beam's light follows its RF by them (``sim.physics.beam_rf``)."""

from __future__ import annotations

from artiq.language.units import MHz

from .conftest import base_db

SPI_CH = 20


def test_change_times_are_the_channels_own(make_env):
    db = base_db()
    db["urukul0_ch1"] = {
        **db["urukul0_ch0"],
        "arguments": {"pll_n": 32, "chip_select": 5, "cpld_device": "urukul0_cpld"},
    }
    env = make_env(db)
    core, cpld = env.core, env.get("urukul0_cpld")
    ch0, ch1 = env.get("urukul0_ch0"), env.get("urukul0_ch1")
    eng = env.engine
    dec = eng.channel(SPI_CH).phy.slaves[0]

    def start():
        core.reset()
        cpld.init()
        ch0.init()
        ch1.init()
        ch0.set(100 * MHz, amplitude=0.5)
        ch0.set_att(10.0)  # (the attenuators written: the CPLD's copy holds ch0's from here)
        ch0.cfg_sw(True)

    env.run(start)
    watch = eng.dds_watch([(SPI_CH, 4)])
    t0 = watch.latest()
    assert t0 >= eng.dds[(SPI_CH, 4)].t[-1] and t0 >= dec.cfg_log[-1][0]
    assert watch.latest() == t0  # nothing changed: the same answer

    def step(write):
        def k():
            core.break_realtime()
            write()

        env.run(k)

    step(lambda: ch1.set(90 * MHz, amplitude=0.3))  # an IO_UPDATE: ch0's state again
    t_ch1 = eng.dds[(SPI_CH, 5)].t[-1]
    assert eng.dds[(SPI_CH, 4)].t[-1] == t_ch1
    assert eng.dds_change_times(SPI_CH, 4, t0 + 1, 1 << 60) == []
    assert eng.dds_change_times(SPI_CH, 5, t0 + 1, 1 << 60) == [t_ch1]
    assert watch.latest() == t0  # (a state applied again is no change)
    step(lambda: ch1.set_att(20.0))  # the attenuator register: ch1's byte only
    step(lambda: ch1.cfg_sw(True))  # CFG: ch1's bit only
    assert eng.dds_change_times(SPI_CH, 4, t0 + 1, 1 << 60) == []
    assert len(eng.dds_change_times(SPI_CH, 5, t0 + 1, 1 << 60)) == 3
    assert watch.latest() >= dec.cfg_log[-1][0]  # (a bound: the bus's CPLD)

    step(lambda: ch0.set(100 * MHz, amplitude=0.25))
    t_amp = eng.dds[(SPI_CH, 4)].t[-1]
    step(lambda: ch0.set_att(15.0))
    t_att = dec.att_log[-1][0]
    step(lambda: ch0.cfg_sw(False))
    t_cfg = dec.cfg_log[-1][0]
    step(lambda: ch0.cfg_sw(False))  # CFG written again alike: no change
    got = eng.dds_change_times(SPI_CH, 4, t0 + 1, 1 << 60)
    assert got == [t_amp, t_att, t_cfg]
    assert eng.dds_change_times(SPI_CH, 4, t_amp + 1, t_cfg) == [t_att]  # [from, to)
    assert watch.latest() >= dec.cfg_log[-1][0] > t_cfg
