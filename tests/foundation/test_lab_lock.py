# SPDX-License-Identifier: LGPL-3.0-or-later
"""One simulated lab, one process at a time (:mod:`sim.lab_lock`): a second ``ionlink-sim``
process on the same simulated hardware stops with one line instead of running on the same
stored state; the lock goes with its process, however that ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from sim.lab_lock import LabInUse, LabLock
from sim.runner import Simulation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE_DB = os.path.join(ROOT, "device_db.py")
EXPERIMENT = (
    "from artiq.experiment import *\n"
    "class Exp(EnvExperiment):\n"
    "    def build(self):\n        self.setattr_device('core')\n"
    "    def run(self):\n        self.set_dataset('ran', 1, broadcast=True)\n"
)


def _cli(tmp_path, *options: str) -> subprocess.CompletedProcess:
    exp = tmp_path / "exp.py"
    exp.write_text(EXPERIMENT)
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, "-m", "sim", "run", str(exp), "--device-db", DEVICE_DB, *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_process_on_the_same_lab_stops_with_one_line(tmp_path):
    """While a simulation holds the lab (as a run or the simulated master does), a CLI run on the
    same device database, lab and dataset store exits 2 with one line naming the holder and
    writes nothing; once the holder is closed the same command runs."""
    holder = Simulation(DEVICE_DB, results_dir=tmp_path / "results", state=True)
    try:
        r = _cli(tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("ionlink-sim: error: the simulated lab is in use by ")
        assert "in use by pid {} (".format(os.getpid()) in lines[0]
        assert not list((tmp_path / "results").rglob("*.h5"))
        # another lab is other hardware: not held
        assert _cli(tmp_path, "--lab", "duke2024", "--power-up").returncode == 0
    finally:
        holder.close()
    r = _cli(tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "results").rglob("*-Exp.h5"))) == 2


def test_held_for_the_simulation_life_and_not_when_read_only(tmp_path):
    """A simulation that keeps and writes the hardware state holds the lab from its start to
    :meth:`Simulation.close`; a read-only one (``ionlink-sim slack``) holds nothing."""
    kw = dict(results_dir=tmp_path / "results", state=True)
    first = Simulation(DEVICE_DB, **kw)
    try:
        with pytest.raises(LabInUse, match=r"in use by pid {} \(".format(os.getpid())):
            LabLock(first._store.path).acquire()
    finally:
        first.close()
    lock = LabLock(first._store.path)
    lock.acquire()
    try:
        ro = Simulation(DEVICE_DB, read_only=True, **kw)
        assert not ro._store.held
        ro.close()
    finally:
        lock.release()


def test_the_lock_goes_with_a_killed_process(tmp_path):
    """``kill -9`` of the holder leaves no stale lock (the operating system drops it)."""
    state = tmp_path / "sim_state" / "x.state"
    code = (
        "import sys, time\nfrom sim.lab_lock import LabLock\n"
        "lock = LabLock(__import__('pathlib').Path(sys.argv[1]))\nlock.acquire()\n"
        "print('held', flush=True)\ntime.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(state)],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LabInUse, match=r"in use by pid {} \(".format(proc.pid)):
            LabLock(state).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    lock = LabLock(state)
    lock.acquire()
    lock.release()


def _exp_class(tmp_path):
    from sim.experiment_file import get_experiment, load_experiment_module

    exp = tmp_path / "exp.py"
    exp.write_text(EXPERIMENT)
    return get_experiment(load_experiment_module(str(exp)), None)


def _stored_seed(path) -> int:
    import json

    return json.loads(path.read_bytes().partition(b"\n")[0])["seed"]


def test_a_state_removed_while_the_lab_is_held_is_not_written_back(tmp_path, caplog):
    """``sim_state/`` deleted for a power-up (as the README says) while a run holds the lab:
    the lock went with it, so a second process powers up, runs and stores its state; the first,
    ending after it, stored its own over it (a statewalk: Startup --seed 11 after the deletion,
    and the stored state was the first run's, seed 1). Now the first leaves it as it is."""
    import logging
    import shutil

    exp = _exp_class(tmp_path)
    kw = dict(results_dir=tmp_path / "results", state=True, lab="oxford2020")
    first = Simulation(DEVICE_DB, seed=1, **kw)
    try:
        assert first.run(exp).exit_code == 0
        path = first._store.path
        assert _stored_seed(path) == 1
        shutil.rmtree(path.parent)  # a power-up, while the first still holds the lab
        second = _cli(tmp_path, "--lab", "oxford2020", "--seed", "11")  # a new lock file
        assert second.returncode == 0, second.stderr
        assert _stored_seed(path) == 11
        caplog.set_level(logging.WARNING)
        assert first.run(exp).exit_code == 0
    finally:
        first.close()
    assert _stored_seed(path) == 11  # the power-up and the run after it stand
    (warning,) = [r.getMessage() for r in caplog.records if "removed or replaced" in r.getMessage()]
    assert "this run's hardware state is not stored" in warning
    shutil.rmtree(path.parent)  # removed, and nobody since: the next run starts cold
    with Simulation(DEVICE_DB, seed=5, **kw) as third:
        assert third.run(exp).exit_code == 0
        shutil.rmtree(path.parent)
        assert third.run(exp).exit_code == 0
    assert not path.exists()
