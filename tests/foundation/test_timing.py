# SPDX-License-Identifier: LGPL-3.0-or-later
"""Host/device portability of timing: parallel/sequential, rounding, cursor handover between
kernels.

Cases from ARTIQ's ``test_portability.py`` and ``test_rtio.py`` (Handover, HandoverException,
Rounding) and the manual's ``with parallel: if True: ...`` example, run through the runner with the
session's time manager installed.
"""

from __future__ import annotations

import pytest
from artiq.experiment import (
    EnvExperiment,
    delay,
    delay_mu,
    kernel,
    now_mu,
    parallel,
    sequential,
    us,
)


class _Base(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        for name in ("ttl0", "ttl1", "ttl2", "ttl3"):
            self.setattr_device(name)


class ParallelOfSequentials(_Base):
    @kernel
    def run(self):
        with parallel:
            with sequential:
                self.ttl0.pulse(1 * us)
                self.ttl1.pulse(2 * us)
            with sequential:
                self.ttl2.pulse(3 * us)
                self.ttl3.pulse(4 * us)
        self.ttl0.pulse(1 * us)


class ManualIfTrue(_Base):
    @kernel
    def run(self):
        with parallel:
            if True:
                self.ttl0.pulse(2 * us)
                self.ttl1.pulse(3 * us)
            self.ttl2.pulse(1 * us)


class NestedParallel(_Base):
    @kernel
    def run(self):
        with parallel:
            with parallel:
                self.ttl0.pulse(1 * us)
                self.ttl1.pulse(5 * us)
            with sequential:
                delay(2 * us)
                self.ttl2.pulse(1 * us)
        self.ttl3.pulse(1 * us)


class Rounding(_Base):
    @kernel
    def run(self):
        t0 = now_mu()
        delay(8 * us)
        self.set_dataset("delta", now_mu() - t0)
        t0 = now_mu()
        delay(2.5e-9)
        self.set_dataset("half_up", now_mu() - t0)
        t0 = now_mu()
        delay(-2.5e-9)
        self.set_dataset("half_down", now_mu() - t0)
        self.set_dataset("floor", self.core.seconds_to_mu(2.9e-9))


class Handover(_Base):
    def build(self, fail=False):
        _Base.build(self)
        self.fail = fail

    @kernel
    def k(self, var):
        self.set_dataset(var, now_mu())
        delay_mu(1234)
        if self.fail:
            raise ValueError("kernel failed")

    def run(self):
        for var in ("t1", "t2"):
            try:
                self.k(var)
            except ValueError:
                assert self.fail


def _events(session):
    return session.engine.events


def test_parallel_of_sequentials(simulation, session):
    """parallel{seq{a;b}; seq{c;d}} starts both branches together and continues at the later end."""
    assert simulation.run(ParallelOfSequentials).exit_code == 0
    assert _events(session) == [
        (0, "ttl0", 1),
        (1000, "ttl0", 0),
        (1000, "ttl1", 1),
        (3000, "ttl1", 0),
        (0, "ttl2", 1),
        (3000, "ttl2", 0),
        (3000, "ttl3", 1),
        (7000, "ttl3", 0),
        (7000, "ttl0", 1),
        (8000, "ttl0", 0),
    ]


def test_manual_if_true_pulses_are_sequential(simulation, session):
    """An ``if`` inside ``parallel`` is one sequential unit (manual example)."""
    assert simulation.run(ManualIfTrue).exit_code == 0
    assert _events(session) == [
        (0, "ttl0", 1),
        (2000, "ttl0", 0),
        (2000, "ttl1", 1),
        (5000, "ttl1", 0),
        (0, "ttl2", 1),
        (1000, "ttl2", 0),
    ]
    assert session.engine.now == 5000


def test_nested_parallel(simulation, session):
    """A parallel inside a parallel lasts its longest statement."""
    assert simulation.run(NestedParallel).exit_code == 0
    assert _events(session) == [
        (0, "ttl0", 1),
        (1000, "ttl0", 0),
        (0, "ttl1", 1),
        (5000, "ttl1", 0),
        (2000, "ttl2", 1),
        (3000, "ttl2", 0),
        (5000, "ttl3", 1),
        (6000, "ttl3", 0),
    ]


def test_delay_rounds_half_away_from_zero(simulation):
    """delay(8*us) is exactly 8000 mu; halves round away from zero; seconds_to_mu floors."""
    result = simulation.run(Rounding)
    assert result.exit_code == 0
    assert result.datasets["delta"] == 8000
    assert result.datasets["half_up"] == 3
    assert result.datasets["half_down"] == -3
    assert result.datasets["floor"] == 2


@pytest.mark.parametrize("fail", [False, True])
def test_cursor_handover_between_kernels(simulation, fail):
    """Two kernels each record now_mu and delay 1234 mu: t2 == t1 + 1234, also when they raise."""

    class H(Handover):
        def build(self):
            Handover.build(self, fail=fail)

    result = simulation.run(H)
    assert result.exit_code == 0
    assert result.datasets["t2"] == result.datasets["t1"] + 1234


def test_cursor_persists_across_experiments(simulation):
    """The cursor continues from one experiment to the next in one simulation."""
    first = simulation.run(Handover)
    second = simulation.run(Handover)
    assert second.datasets["t1"] == first.datasets["t2"] + 1234


def test_time_manager_restored_after_run(simulation):
    """The runner installs the engine only while the experiment runs."""
    from artiq.language import core

    before = core._time_manager
    simulation.run(Rounding)
    assert core._time_manager is before
    with pytest.raises(NotImplementedError):
        now_mu()
