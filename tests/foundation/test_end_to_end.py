# SPDX-License-Identifier: LGPL-3.0-or-later
"""End to end with the real session, engine and device models (``sim.session``, ``sim.devices``).

The device_db names ARTIQ's modules (``artiq.coredevice.ttl``...), transformed by the runner.
"""

from __future__ import annotations

import h5py
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

from sim.runner import Simulation

CHANNELS = {"ttl0": 10, "ttl1": 11, "ttl2": 12, "ttl3": 13}


def device_db() -> dict:
    ddb: dict = {
        "core": {
            "type": "local",
            "module": "artiq.coredevice.core",
            "class": "Core",
            "arguments": {"host": None, "ref_period": 1e-9},
        }
    }
    for name, channel in CHANNELS.items():
        ddb[name] = {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLOut",
            "arguments": {"channel": channel},
        }
    return ddb


@pytest.fixture
def real_sim(tmp_path):
    with Simulation(
        device_db(),
        seed=3,
        results_dir=tmp_path / "results",
        dataset_db=tmp_path / "dataset_db.mdb",
    ) as sim:
        yield sim


class _Base(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        for name in CHANNELS:
            self.setattr_device(name)


class Portability(_Base):
    """test_portability.py: parallel{seq{a.pulse; b.pulse}; seq{c.pulse; d.pulse}}."""

    @kernel
    def run(self):
        self.core.reset()
        t0 = now_mu()
        self.set_dataset("t0", t0)
        with parallel:
            with sequential:
                self.ttl0.pulse(1 * us)
                self.ttl1.pulse(2 * us)
            with sequential:
                self.ttl2.pulse(3 * us)
                self.ttl3.pulse(4 * us)
        self.set_dataset("t_end", now_mu() - t0)
        with parallel:
            if True:
                self.ttl0.pulse(2 * us)
                self.ttl1.pulse(3 * us)
            self.ttl2.pulse(1 * us)
        self.set_dataset("t_end2", now_mu() - t0)
        t1 = now_mu()
        delay(8 * us)
        self.set_dataset("rounding", now_mu() - t1)


class Handover(_Base):
    def build(self, fail=False):
        _Base.build(self)
        self.fail = fail

    @kernel
    def k(self, var):
        self.set_dataset(var, now_mu())
        delay_mu(1234)
        if self.fail:
            raise ValueError

    def run(self):
        self.core.reset()  # host call: reset is a kernel
        for var in ("t1", "t2"):
            try:
                self.k(var)
            except ValueError:
                pass


def _edges(sim, name, t0):
    return [(t - t0, v) for t, v in sim.session.engine.ttl_levels(CHANNELS[name], t0, t0 + 10**7)]


def test_portability_timestamps(real_sim):
    """Exact output timestamps of the parallel/sequential cases on the RTIO engine."""
    result = real_sim.run(Portability)
    assert result.exit_code == 0, result.error_message
    d = result.datasets
    t0 = d["t0"]
    assert d["t_end"] == 7000 and d["t_end2"] == 12000 and d["rounding"] == 8000
    assert _edges(real_sim, "ttl0", t0) == [(0, 1), (1000, 0), (7000, 1), (9000, 0)]
    assert _edges(real_sim, "ttl1", t0) == [(1000, 1), (3000, 0), (9000, 1), (12000, 0)]
    assert _edges(real_sim, "ttl2", t0) == [(0, 1), (3000, 0), (7000, 1), (8000, 0)]
    assert _edges(real_sim, "ttl3", t0) == [(3000, 1), (7000, 0)]


@pytest.mark.parametrize("fail", [False, True])
def test_handover(real_sim, fail):
    """t2 == t1 + 1234 across two kernels, also when each raises."""

    class H(Handover):
        def build(self):
            Handover.build(self, fail=fail)

    result = real_sim.run(H)
    assert result.exit_code == 0, result.error_message
    assert result.datasets["t2"] == result.datasets["t1"] + 1234


def test_diagnostics_in_results(real_sim):
    """Seed and min slack are recorded as ionlink.sim.* datasets."""
    result = real_sim.run(Portability)
    with h5py.File(result.results_file) as f:
        assert f["datasets/ionlink.sim.seed"][()] == 3
        assert f["datasets/ionlink.sim.async_error_count"][()] == 0
        assert "datasets/ionlink.sim.min_slack_mu" in f
