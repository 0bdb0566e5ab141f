# SPDX-License-Identifier: LGPL-3.0-or-later
"""A run's outcome on the simulated master is decided by what the experiment did, not by whether
a termination request exists: a request that comes after the experiment's last check (the
master stopping just after ``run()`` returned) leaves the run ``ok``; a request the experiment
saw and stopped for makes it ``terminated``. A requested termination is not logged as an error.

Deterministic: the experiment waits at a chosen point until the master has asked for the
termination (no sleeps); no ports are opened (the schedule's worker is driven directly)."""

from __future__ import annotations

import logging
import pathlib
import sys
import threading
import types

import h5py
import pytest

from sim.master.service import Master
from sim.runner import Simulation

ROOT = pathlib.Path(__file__).resolve().parents[2]

EXPERIMENT = """
from artiq.experiment import *
import _race_hook


class Race(EnvExperiment):
    def build(self):
        self.setattr_device("scheduler")

    def run(self):
        self.set_dataset("stop_reason", "running", archive=True)
        if _race_hook.wait_in == "run":
            _race_hook.reached.set()
            _race_hook.go.wait(30)
        if self.scheduler.check_pause():
            self.set_dataset("stop_reason", "terminated", archive=True)
            return  # leaves early, normally (as hom.py does)
        self.set_dataset("stop_reason", "complete", archive=True)

    def analyze(self):
        if _race_hook.wait_in == "analyze":
            _race_hook.reached.set()
            _race_hook.go.wait(30)
"""


@pytest.mark.parametrize(
    ("wait_in", "status", "exit_code"),
    [("analyze", "ok", 0), ("run", "terminated", 130)],
)
def test_master_stopping_after_run_returned_leaves_the_run_ok(
    tmp_path, monkeypatch, caplog, wait_in, status, exit_code
):
    hook = types.SimpleNamespace(wait_in=wait_in, reached=threading.Event(), go=threading.Event())
    monkeypatch.setitem(sys.modules, "_race_hook", hook)
    (tmp_path / "race.py").write_text(EXPERIMENT)
    sim = Simulation(
        ROOT / "device_db.py",
        seed=1,
        lab="oxford2020",
        results_dir=tmp_path / "results",
        dataset_db=tmp_path / "dataset_db.mdb",
    )
    master = Master(sim, tmp_path)
    schedule = master.schedule
    request = schedule._terminate_running

    def request_then_go(rid: int) -> None:  # the master's stop asks; the experiment goes on
        request(rid)
        hook.go.set()

    monkeypatch.setattr(schedule, "_terminate_running", request_then_go)
    caplog.set_level(logging.INFO, logger="sim.master.service")
    schedule.start()
    try:
        rid = schedule.submit("main", {"file": "race.py", "arguments": {}, "repo_rev": None})
        assert hook.reached.wait(30), "the experiment never reached its waiting point"
        schedule.stop(30)  # as the master does on SIGTERM
        outcome = schedule.wait_outcome(rid, 0)
    finally:
        hook.go.set()
        schedule.stop(30)
        sim.close()
    assert outcome is not None
    assert (outcome.status, outcome.exit_code) == (status, exit_code), outcome
    with h5py.File(outcome.results_file, "r") as f:  # the file and the outcome agree
        assert f["datasets/stop_reason"][()].decode() == ("complete" if status == "ok" else status)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    if status == "terminated":
        assert any(
            r.levelno == logging.WARNING and "terminated" in r.getMessage() for r in caplog.records
        )
