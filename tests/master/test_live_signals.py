# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim run --live`` (offscreen) and termination signals: SIGTERM and SIGHUP during the
run request termination with ``run``'s exit statuses (143, 129: it gave 130, and SIGHUP killed
it) and one line, no ERROR (it logged ``ERROR ... terminated:`` with nothing after the colon); a
second signal stops an experiment that never checks at once; one the experiment never saw leaves
the run ok (exit 0, a line says so); a finished run waits for its window to be closed, and a
signal then ends it with the run's status.

The command runs in a process of its own, on free ports (``--live`` serves ARTIQ's default ports:
the test patches :data:`sim.master.service.DEFAULT_PORTS` before the command starts)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import h5py
import pytest
from master_ports import free_ports

pytest.importorskip("qasync")
pytest.importorskip("pyqtgraph")

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: ``ionlink-sim`` with the simulated master's default ports moved to free ones (argv[1:5])
LIVE = """import sys

import sim.master.service as service

service.DEFAULT_PORTS = service.MasterPorts(*(int(p) for p in sys.argv[1:5]))
sys.argv[0:5] = ["ionlink-sim"]
from sim.cli import entry_point

entry_point()
"""

EXPERIMENTS = {
    "looper.py": '''import pathlib
import time

from artiq.experiment import *


class Looper(EnvExperiment):
    """Checks for termination every 50 ms."""

    def build(self):
        self.setattr_device("scheduler")

    def run(self):
        pathlib.Path("started").touch()
        while not self.scheduler.check_pause():
            time.sleep(0.05)
''',
    "sleeper.py": '''import pathlib
import time

from artiq.experiment import *


class Sleeper(EnvExperiment):
    """Never checks for termination."""

    def run(self):
        self.set_dataset("started", True, archive=True)
        pathlib.Path("started").touch()
        while True:
            time.sleep(0.05)
''',
    "unchecked.py": '''import pathlib
import time

from artiq.experiment import *


class Unchecked(EnvExperiment):
    """Runs 2 s without checking for termination, then ends."""

    def run(self):
        pathlib.Path("started").touch()
        time.sleep(2)
        self.set_dataset("done", True, archive=True)
''',
    "quick.py": '''from artiq.experiment import *


class Quick(EnvExperiment):
    """Ends at once."""

    def run(self):
        self.set_dataset("done", True, archive=True)
''',
}


class _Live:
    """``ionlink-sim run EXPERIMENT --live -q`` in ``folder``, its output read as it comes."""

    def __init__(self, folder: pathlib.Path, experiment: str):
        for name, text in EXPERIMENTS.items():
            (folder / name).write_text(text)
        (folder / "live.py").write_text(LIVE)
        env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
        env["IONLINK_COMMS"] = "ionlink"
        cmd = [sys.executable, "live.py", *(str(p) for p in free_ports(4))]
        cmd += ["run", experiment, "--device-db", str(ROOT / "device_db.py")]
        cmd += ["--lab", "oxford2020", "--seed", "2", "--live", "-q"]
        self.folder = folder
        self.process = subprocess.Popen(
            cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lines.extend, args=(stream,), daemon=True).start()

    def until(self, condition: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, "".join(self.err)
            assert time.monotonic() < deadline, "".join(self.err)
            time.sleep(0.05)

    def started(self) -> bool:
        return (self.folder / "started").exists()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self) -> int:
        try:
            return self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            time.sleep(0.1)  # the readers take the last lines

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def live(tmp_path):
    made: list[_Live] = []

    def start(experiment: str) -> _Live:
        made.append(_Live(tmp_path, experiment))
        return made[-1]

    yield start
    for run in made:
        run.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_terminates_a_live_run_with_runs_exit_status(live, signum):
    run = live("looper.py")
    run.until(run.started)
    run.signal(signum)
    assert run.wait() == 128 + signum
    err = "".join(run.err)
    assert "ERROR" not in err, err
    name = signal.Signals(signum).name
    assert "ionlink-sim: {}: termination requested".format(name) in err, err
    assert "RID 0: terminated as requested" in err, err
    assert "results: " in "".join(run.out)


def test_a_second_signal_stops_a_live_run_at_once(live):
    run = live("sleeper.py")
    run.until(run.started)
    run.signal(signal.SIGINT)
    run.until(lambda: any("termination requested" in line for line in run.err))
    time.sleep(0.3)  # it never checks: it goes on
    assert run.process.poll() is None
    run.signal(signal.SIGTERM)
    assert run.wait() == 143
    err = "".join(run.err)
    assert "stopped at once" in err, err
    results = pathlib.Path("".join(run.out).split("results: ")[1].strip())
    with h5py.File(results, "r") as f:
        assert f["datasets/ionlink.sim.stopped_at_once"][()].decode() == "SIGTERM"


def test_a_signal_the_live_run_never_saw_leaves_it_ok(live):
    """A signal after the experiment's last check: it runs to its end, exit 0, and a line says
    so (as ``run`` says it)."""
    run = live("unchecked.py")
    run.until(run.started)
    run.signal(signal.SIGTERM)
    assert run.wait() == 0
    err = "".join(run.err)
    assert (
        "ionlink-sim: SIGTERM came after the experiment's last termination check: it ran to its "
        "end (exit status 0)"
    ) in err, err


def test_a_finished_live_run_waits_for_its_window(live):
    """The run ended: the command waits for the window to be closed (with no display: for a
    signal), which ends it with the run's status."""
    run = live("quick.py")
    run.until(lambda: any("results: " in line for line in run.out))
    time.sleep(1.0)
    assert run.process.poll() is None, "".join(run.err)
    run.signal(signal.SIGTERM)
    assert run.wait() == 0
    assert "termination requested" not in "".join(run.err)
