# SPDX-License-Identifier: LGPL-3.0-or-later
"""The view's mark of an AD9910's RF (``PhyViews.dds_changes``): the same while nothing that
``dds_state_at``, ``dds_attenuation`` and ``dds_rf_switch`` read changes, another after every
change of its state timeline or its CPLD's CFG and attenuator histories (in time order or not),
and none while the switch TTL decides (CFG leaves the RF switch open). A beam keeps its light by
it (``sim.physics.beam_rf``), so a change it missed would keep a stale light."""

from __future__ import annotations

from types import SimpleNamespace

from artiq.language.units import MHz

from sim.physics.view import DDSState
from sim.rtio.phy.urukul import UrukulDecoder

SPI_CH = 20


def test_every_change_gives_a_new_mark(env):
    core, cpld, dds = env.core, env.get("urukul0_cpld"), env.get("urukul0_ch0")
    eng = env.engine

    def start():
        core.reset()
        cpld.init()  # CFG: every RF switch open
        dds.init()
        dds.set(100 * MHz, amplitude=0.5)

    env.run(start)
    assert eng.dds_changes(SPI_CH, 4) is None  # the switch TTL decides: no mark

    def close_switch():
        core.break_realtime()
        dds.cfg_sw(True)

    env.run(close_switch)
    m1 = eng.dds_changes(SPI_CH, 4)
    assert m1 is not None and m1[2] == eng.channel(SPI_CH).phy.slaves[0].cfg_log[-1][0]
    assert eng.dds_state_at(SPI_CH, 4, 1 << 60) is not None  # reads change nothing
    eng.dds_states(SPI_CH, 4, 0, 1 << 60)
    eng.dds_attenuation(SPI_CH, 4, 0, 1 << 60)
    assert eng.dds_changes(SPI_CH, 4) == m1

    marks = [m1]

    def write(step):
        def k():
            core.break_realtime()
            step()

        env.run(k)
        mark = eng.dds_changes(SPI_CH, 4)
        assert mark is not None and mark not in marks, step
        marks.append(mark)

    write(lambda: dds.set(90 * MHz, amplitude=0.5))
    write(lambda: dds.set_att(12.0))
    write(lambda: dds.cfg_sw(True))  # CFG written again alike

    # edits that do not move the latest time: a state inserted before the last, a ramp cut
    tl, dec = eng.dds[(SPI_CH, 4)], eng.channel(SPI_CH).phy.slaves[0]
    latest = marks[-1][2]
    tl.repeat(DDSState(0, 80e6, 0.0, 0.5), tl.t[-1] - 1)
    assert eng.dds_changes(SPI_CH, 4) not in marks and eng.dds_changes(SPI_CH, 4)[2] == latest
    marks.append(eng.dds_changes(SPI_CH, 4))
    tl.drop(tl.t[-1] - 2, tl.t[-1] - 1)
    assert eng.dds_changes(SPI_CH, 4) not in marks
    marks.append(eng.dds_changes(SPI_CH, 4))
    dec.changed()  # CFG and attenuators as a restored run found them
    assert eng.dds_changes(SPI_CH, 4) not in marks
    marks.append(eng.dds_changes(SPI_CH, 4))

    # the bus's CPLD: another slave attached after it, or one that is no CPLD before it (even
    # with methods of the same names), changes nothing; a second CPLD before it is the one read
    slaves = eng.channel(SPI_CH).phy.slaves
    slaves.append(SimpleNamespace(rf_switch=lambda cs, t: True, attenuation_db=None))
    assert eng.dds_changes(SPI_CH, 4) == marks[-1]
    slaves.insert(0, SimpleNamespace(rf_switch=lambda cs, t: False, attenuation_db=lambda *a: 0))
    assert eng.dds_changes(SPI_CH, 4) == marks[-1]
    other = UrukulDecoder(eng, SPI_CH)
    slaves.insert(0, other)
    assert eng.dds_changes(SPI_CH, 4) is None  # (its CFG closes the switch: the TTL decides)
    assert eng.urukul_cpld(SPI_CH) is other
    del slaves[0], slaves[0], slaves[-1]
    assert eng.dds_changes(SPI_CH, 4) == marks[-1]
    assert eng.dds_changes(SPI_CH + 1, 4) is None  # no Urukul there
