# SPDX-License-Identifier: LGPL-3.0-or-later
"""Runs that never ran and a master stopped twice: a pending run deleted (the dashboard's Delete)
or dropped by a stopping master has an outcome, so ``submit --wait`` says so in one line (exit 4)
instead of waiting forever or reporting the master lost; a second signal to a stopping master
stops an experiment that never checks for termination at once, as ``ionlink-sim run``'s does
(results file written and marked, the waiting client told), and the master exits 128 + n.

The first two drive the schedule directly with a stand-in run (no ports, no simulation); the last
runs ``ionlink-sim master`` and ``submit --wait`` and signals the master."""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import h5py
from master_ports import free_ports

from comms import pc_rpc
from sim.master.cli import _wait
from sim.master.schedule import EXIT_NOT_RUN, RunOutcome, Schedule

ROOT = pathlib.Path(__file__).resolve().parents[2]


class _BlockingRun:
    """A stand-in for the master's run: blocks until asked to terminate."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, rid: int, file: pathlib.Path, expid: dict) -> RunOutcome:
        self.started.set()
        self.release.wait(30)
        return RunOutcome(rid, 130, "terminated", None, "")

    def terminate(self, rid: int) -> None:
        self.release.set()


def _schedule(tmp_path: pathlib.Path, run: _BlockingRun) -> Schedule:
    (tmp_path / "exp.py").write_text("")
    rids = iter(range(100))
    return Schedule(run, lambda: next(rids), tmp_path, lambda fn, *args: fn(*args), run.terminate)


def _wait_in_thread(schedule: Schedule, rid: int) -> list[int]:
    """``submit --wait``'s loop against ``schedule``; its exit status (empty while it waits)."""
    client = type("Client", (), {"get_outcome": staticmethod(schedule.get_outcome)})()
    status: list[int] = []
    waiter = threading.Thread(target=lambda: status.append(_wait(client, rid)), daemon=True)
    waiter.start()
    time.sleep(0.3)  # it polls: get_outcome said None at least once
    return status


def _until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_submit_wait_of_a_deleted_pending_run_ends(tmp_path, capsys):
    """``schedule.delete`` of a pending run: the waiting client prints one line, exit 4."""
    run = _BlockingRun()
    schedule = _schedule(tmp_path, run)
    schedule.start()
    try:
        running = schedule.submit("main", {"file": "exp.py", "arguments": {}})
        assert run.started.wait(5)
        pending = schedule.submit("main", {"file": "exp.py", "arguments": {}})
        status = _wait_in_thread(schedule, pending)
        schedule.delete(pending)
        assert _until(lambda: status), "submit --wait still waits for a deleted run"
    finally:
        schedule.stop(10)
    assert status == [EXIT_NOT_RUN] == [4]
    assert capsys.readouterr().err == "ionlink-sim: RID {} was deleted before it ran\n".format(
        pending
    )
    assert schedule.get_outcome(running)["status"] == "terminated"


def test_a_stopping_master_says_its_pending_runs_were_not_run(tmp_path, capsys, caplog):
    """``schedule.stop`` with a run pending: its outcome is "not run" (a WARNING names it), and
    the waiting client says the master stopped before it started, exit 4."""
    run = _BlockingRun()
    schedule = _schedule(tmp_path, run)
    caplog.set_level(logging.WARNING, logger="sim.master.schedule")
    schedule.start()
    try:
        schedule.submit("main", {"file": "exp.py", "arguments": {}})
        assert run.started.wait(5)
        pending = [schedule.submit("main", {"file": "exp.py", "arguments": {}}) for _ in "ab"]
        status = _wait_in_thread(schedule, pending[0])
        schedule.stop(10)  # as the master does on Ctrl-C/SIGTERM
        assert _until(lambda: status), "submit --wait still waits for a dropped run"
    finally:
        run.release.set()
        schedule.stop(10)
    assert status == [EXIT_NOT_RUN]
    assert capsys.readouterr().err == (
        "ionlink-sim: RID {} was not run: the master stopped before it started\n".format(pending[0])
    )
    assert schedule.get_outcome(pending[1])["status"] == "not run"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "not run, the master stopped before they started: RID {}, {}".format(*pending)
    ]


SLEEPER = '''import time

from artiq.experiment import *


class Sleeper(EnvExperiment):
    """Never checks for termination."""

    def run(self):
        self.set_dataset("started", True, archive=True)
        while True:
            time.sleep(0.05)
'''


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), IONLINK_COMMS="ionlink")
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    return env


def _lines(stream: Any) -> list[str]:
    """The lines of ``stream``, read by a thread as they come."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(stream), daemon=True).start()
    return lines


def test_a_second_signal_stops_the_masters_run_at_once(tmp_path):
    """SIGINT asks the run to terminate (a WARNING says so); the experiment never checks, so a
    SIGTERM then stops it at once: the results file is written and marked, ``submit --wait``
    says so (exit 143), the master exits 143 (before: it ignored the second signal)."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "sleeper.py").write_text(SLEEPER)
    notify, control, bcast, logport = free_ports(4)
    cmd = [sys.executable, "-m", "sim", "master", "--device-db", str(ROOT / "device_db.py")]
    cmd += ["-r", "repo", "--lab", "oxford2020", "--seed", "2", "--no-applets"]
    cmd += ["--port-notify", str(notify), "--port-control", str(control)]
    cmd += ["--port-broadcast", str(bcast), "--port-logging", str(logport)]
    cmd += ["--no-localhost-bind", "--bind", "127.0.0.1"]
    master = subprocess.Popen(
        cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    waiting = None
    try:
        assert master.stdout.readline().strip() == "ionlink simulated master is ready."
        log = _lines(master.stderr)
        submit = [sys.executable, "-m", "sim", "submit", "-s", "127.0.0.1", "--port", str(control)]
        waiting = subprocess.Popen(
            submit + ["-w", "-R", "sleeper.py"],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        schedule = pc_rpc.Client("127.0.0.1", control, "schedule", timeout=10)
        assert _until(
            lambda: any(r["status"] == "running" for r in schedule.get_status().values()), 15
        )
        schedule.close_rpc()
        master.send_signal(signal.SIGINT)
        assert _until(lambda: any("stopping:" in line for line in log)), log
        time.sleep(0.5)  # the experiment goes on: it never checks
        assert master.poll() is None
        master.send_signal(signal.SIGTERM)
        assert master.wait(10) == 128 + signal.SIGTERM == 143
        out, err = waiting.communicate(timeout=10)
    finally:
        for process in (master, waiting):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert waiting.returncode == 143, err
    assert err.startswith("ionlink-sim: RID 0 terminated: stopped at once by a second signal"), err
    assert err.count("\n") == 1, err
    results = pathlib.Path(out.split("results: ")[1].strip())
    with h5py.File(results, "r") as f:
        assert f["datasets/ionlink.sim.stopped_at_once"][()].decode() == "SIGTERM"
        assert bool(f["datasets/started"][()])
    assert any(line.startswith("WARNING:") and "stopping:" in line for line in log), log


def test_ctrl_c_stops_the_waiting_not_the_run(capsys):
    """Ctrl-C on ``submit --wait`` ends the client with one line saying the run goes on (and how
    to stop it); it said only "interrupted"."""

    class Client:
        def get_outcome(self, rid: int) -> None:
            raise KeyboardInterrupt

    assert _wait(Client(), 8, "[127.0.0.1]:3251") == 130
    err = capsys.readouterr().err
    assert err == (
        "ionlink-sim: stopped waiting: RID 8 goes on on the master at [127.0.0.1]:3251 (the "
        "dashboard, or schedule.request_termination(8) over pc_rpc, stops it)\n"
    )
