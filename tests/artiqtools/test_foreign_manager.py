# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated core under a device manager that is not ionlink's (ARTIQ's own, as ``artiq_run``
and ``artiq_master`` use with ``device_db_sim.py``): it knows nothing of the simulator, so the
core itself installs the time manager for each kernel, binds the syscalls, loads and saves the
hardware state in ``sim_state/`` and serves the core log through the ``core_log`` device.

The CI tests drive this with a manager written to ARTIQ's contract (``artiq.master.worker_db``:
``f(dmgr, **arguments)`` per local entry, shared instances, ``close()`` in reverse order) on the
stand-in; the ``artiq`` test runs ARTIQ's own ``artiq_run`` where ARTIQ is installed.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import subprocess
import sys

import pytest
from artiq.language import core as lcore

from sim import artiq_env
from sim.datasets import DatasetDB, DatasetManager
from sim.device_manager import load_device_db

REPO = pathlib.Path(__file__).resolve().parents[2]


class ForeignDeviceManager:
    """ARTIQ's device-manager contract, nothing more (no ``ionlink_session``)."""

    def __init__(self, ddb: dict):
        self.ddb = ddb
        self.active_devices: list = []

    def get_device_db(self) -> dict:
        return self.ddb

    def get_desc(self, name: str) -> dict:
        desc = self.ddb[name]
        while isinstance(desc, str):
            desc = self.ddb[desc]
        return desc

    def get(self, name: str):
        desc = self.get_desc(name)
        for d, dev in self.active_devices:
            if d == desc:
                return dev
        cls = getattr(importlib.import_module(desc["module"]), desc["class"])
        dev = cls(self, **desc.get("arguments", {}))
        self.active_devices.append((desc, dev))
        return dev

    def close_devices(self) -> None:
        for _d, dev in reversed(self.active_devices):
            if hasattr(dev, "close"):
                dev.close()
        self.active_devices.clear()


def _sim_db() -> dict:
    return load_device_db(REPO / "device_db_sim.py")


def _experiment(cls: type, dmgr: ForeignDeviceManager, dataset_db: DatasetDB):
    from sim.experiment_file import argument_manager_class

    managers = (dmgr, DatasetManager(dataset_db), argument_manager_class()({}, None), {})
    exp = cls(managers)
    exp.prepare()
    return exp


def test_kernel_gets_time_manager_and_state_carries_over(tmp_path, monkeypatch):
    """A kernel under a foreign manager runs against the core's engine (installed only while it
    runs); Startup's hardware state is saved at close and loaded by the next process's core."""
    from artiq.experiment import EnvExperiment, delay_mu, kernel, now_mu

    monkeypatch.chdir(tmp_path)
    dataset_db = DatasetDB(None)
    dmgr = ForeignDeviceManager(_sim_db())
    seen = {}

    class Probe(EnvExperiment):
        def build(self):
            self.setattr_device("core")
            self.setattr_device("node_a")

        @kernel
        def run(self):
            self.core.reset()
            t0 = now_mu()
            delay_mu(100)
            self.node_a.cool_sw.pulse_mu(20)  # a driver's kernel through the engine
            seen["dt"] = now_mu() - t0
            seen["tm"] = lcore._time_manager

    before = lcore._time_manager
    exp = _experiment(Probe, dmgr, dataset_db)
    exp.run()
    assert seen["tm"] is exp.core.engine
    assert lcore._time_manager is before
    assert seen["dt"] == 120

    startup = importlib.import_module("repository.startup").Startup
    _experiment(startup, dmgr, dataset_db).run()
    dmgr.close_devices()
    assert len(list((tmp_path / "sim_state").glob("*.state"))) == 1

    dmgr2 = ForeignDeviceManager(_sim_db())
    core = dmgr2.get("core")
    assert core.session.engine.get_time_mu() > 0  # the stored clocks, not a power-up
    state = core.session.capture_state()
    assert len(state.urukuls) == 2 and all(u.cfg_written for u in state.urukuls)
    dmgr2.close_devices()


def test_core_log_device_reads_the_private_session(tmp_path, monkeypatch):
    """The ``core_log`` device returns the core-log lines of the core's own session."""
    from artiq.experiment import EnvExperiment, delay_mu, kernel

    monkeypatch.chdir(tmp_path)
    dmgr = ForeignDeviceManager(_sim_db())

    class Collide(EnvExperiment):
        def build(self):
            self.setattr_device("core")
            self.setattr_device("node_a")

        @kernel
        def run(self):
            self.core.reset()
            delay_mu(5000)
            for _ in range(16):  # 1-mu pulses in one coarse cycle: a collision
                self.node_a.cool_sw.pulse_mu(1)
                delay_mu(1)

    exp = _experiment(Collide, dmgr, DatasetDB(None))
    exp.run()
    log = dmgr.get("core_log").get_log()
    assert log == exp.core.session.async_errors
    assert any("collision" in line.lower() for line in log), log
    dmgr.close_devices()


@pytest.mark.artiq
@pytest.mark.skipif(not artiq_env.real_artiq_available(), reason="needs a real ARTIQ installation")
def test_artiq_run_with_device_db_sim(tmp_path):
    """ARTIQ's ``artiq_run`` on ``device_db_sim.py``: Startup, then remote entanglement with
    ``-o``; the file analyses like an ``ionlink-sim run`` file."""
    from analysis import fidelity_summary, load

    env = dict(os.environ, PYTHONPATH=str(REPO))

    def artiq_run(*args: str) -> None:
        cmd = [sys.executable, "-m", "artiq.frontend.artiq_run"]
        cmd += ["--device-db", str(REPO / "device_db_sim.py"), *args]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]

    artiq_run(str(REPO / "repository" / "startup.py"))
    artiq_run(
        "-o",
        "results.h5",
        str(REPO / "repository" / "remote_entanglement.py"),
        "heralds_per_setting=20",
    )
    run = load(tmp_path / "results.h5")
    assert run.experiment == "remote_entanglement"
    rep = fidelity_summary([run.path])
    assert rep.heralds == 20
    assert 0 < rep.p_success.value < 1e-2
