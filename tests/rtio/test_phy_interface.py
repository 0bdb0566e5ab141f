# SPDX-License-Identifier: LGPL-3.0-or-later
"""The engine asks of a PHY only what it declares (:mod:`sim.rtio.phy.interface`): an input FIFO
for an input source, output hooks for an observer, ``rtio_init`` resets for a resettable one."""

from sim.rtio.channels import Kind
from sim.rtio.engine import RTIOEngine
from sim.rtio.phy.interface import InputSource, OutputObserver, Resettable, implements


class Source:
    def __init__(self):
        self.resets = []
        self.seen = []

    def input_events(self, t_end):
        return []


class ResettableObserver:
    def __init__(self):
        self.resets = []
        self.seen = []

    def on_output(self, ts, addr, data):
        self.seen.append((ts, addr, data))

    def rtio_reset(self, counter):
        self.resets.append(counter)


class NotCallable:
    on_output = 3  # an attribute of that name is not the method


def test_implements_checks_the_protocols_methods():
    assert implements(Source(), InputSource)
    assert not implements(Source(), OutputObserver)
    assert implements(ResettableObserver(), OutputObserver)
    assert implements(ResettableObserver(), Resettable)
    assert not implements(ResettableObserver(), InputSource)
    assert not implements(NotCallable(), OutputObserver)


def test_engine_uses_what_each_phy_declares():
    eng = RTIOEngine()
    src, obs = Source(), ResettableObserver()
    eng.register_channel(1, Kind.TTL_INOUT, "src", phy=src)
    eng.register_channel(2, Kind.SPI, "obs", phy=obs)
    assert set(eng.inputs) == {1}  # an input FIFO for the source only
    eng.now = 10_000
    eng.rtio_output(2 << 8 | 1, 5)
    assert obs.seen == [(10_000, 1, 5)]  # the observer sees the accepted submission
    eng.rtio_init()
    assert obs.resets == [eng.counter] and src.resets == []
