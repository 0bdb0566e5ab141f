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
import pytest
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


def _master(
    tmp_path: pathlib.Path, python: list[str], ignore_sighup: bool = False
) -> tuple[subprocess.Popen, int]:
    """A simulated master (``python``: how it is started) for ``repo`` in ``tmp_path`` on free
    loopback ports (SIGHUP ignored, as under ``nohup``, with ``ignore_sighup``), and its control
    port."""
    notify, control, bcast, logport = free_ports(4)
    cmd = [*python, "master", "--device-db", str(ROOT / "device_db.py")]
    cmd += ["-r", "repo", "--lab", "oxford2020", "--seed", "2", "--no-applets"]
    cmd += ["--port-notify", str(notify), "--port-control", str(control)]
    cmd += ["--port-broadcast", str(bcast), "--port-logging", str(logport)]
    cmd += ["--no-localhost-bind", "--bind", "127.0.0.1"]
    nohup = (lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if ignore_sighup else None
    master = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=nohup,
    )
    return master, control


def _submit_wait(tmp_path: pathlib.Path, control: int, experiment: str) -> subprocess.Popen:
    """``ionlink-sim submit -w -R experiment`` to the master on ``control``."""
    submit = [sys.executable, "-m", "sim", "submit", "-s", "127.0.0.1", "--port", str(control)]
    return subprocess.Popen(
        submit + ["-w", "-R", experiment],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_signal_stops_the_masters_run_at_once(tmp_path):
    """SIGINT asks the run to terminate (a WARNING says so); the experiment never checks, so a
    SIGTERM then stops it at once: the results file is written and marked, ``submit --wait``
    says so (exit 143), the master exits 143 (before: it ignored the second signal)."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "sleeper.py").write_text(SLEEPER)
    master, control = _master(tmp_path, [sys.executable, "-m", "sim"])
    waiting = None
    try:
        assert master.stdout.readline().strip() == "ionlink simulated master is ready."
        log = _lines(master.stderr)
        waiting = _submit_wait(tmp_path, control, "sleeper.py")
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


class _SavingRun:
    """A stand-in for the master's run: ends when asked to terminate, then saves its results
    (:func:`~sim.termination.signals_held`) until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.saving = threading.Event()
        self.saved = threading.Event()
        self.release = threading.Event()
        self.asked = threading.Event()

    def __call__(self, rid: int, file: pathlib.Path, expid: dict) -> RunOutcome:
        from sim.termination import signals_held

        self.started.set()
        self.asked.wait(30)
        with signals_held():
            self.saving.set()
            self.release.wait(30)
            self.saved.set()
        return RunOutcome(rid, 130, "terminated", "results.h5", "")

    def terminate(self, rid: int) -> None:
        self.asked.set()


def test_a_signal_while_the_run_saves_its_results_waits_for_the_save(tmp_path):
    """The master's second signal while its terminated run saves its results: nothing is raised
    in the run (the save ends in full), :meth:`Schedule.interrupt` says the run was saving (the
    master said "stopped at once" and the run's outcome said terminated by request, 130, while
    the master exited 143), and the run's exit status is 128 + the signal's, as ``run`` gives a
    terminated run whose save a second signal waited for."""
    from sim.termination import ThreadInterrupt

    run = _SavingRun()
    (tmp_path / "exp.py").write_text("")
    rids = iter(range(100))
    schedule = Schedule(
        run, lambda: next(rids), tmp_path, lambda fn, *args: fn(*args), run.terminate
    )
    schedule.start()
    try:
        rid = schedule.submit("main", {"file": "exp.py", "arguments": {}})
        assert run.started.wait(10)
        stopper = threading.Thread(target=schedule.stop, args=(30,))
        stopper.start()  # the master's first signal
        assert run.saving.wait(10)
        interruption = schedule.interrupt(signal.SIGTERM)
        run.release.set()
        stopper.join(30)
    finally:
        run.release.set()
        schedule.stop(30)
    assert interruption is not None
    assert (interruption.rid, interruption.how) == (rid, ThreadInterrupt.SAVING)
    assert run.saved.is_set()
    outcome = schedule.get_outcome(rid)
    assert (outcome["status"], outcome["exit_code"]) == ("terminated", 143), outcome
    assert not outcome["stopped_at_once"]
    assert outcome["results_file"] == "results.h5"


LOOPER = '''import pathlib
import time

from artiq.experiment import *


class Looper(EnvExperiment):
    """Checks for termination every 50 ms."""

    def build(self):
        self.setattr_device("scheduler")

    def run(self):
        self.set_dataset("started", True, archive=True)
        pathlib.Path("started").touch()
        while not self.scheduler.check_pause():
            time.sleep(0.05)
        self.set_dataset("ended", True, archive=True)
'''

#: ``ionlink-sim`` with the results file's write slowed down (2 s, a file ``saving`` marks it)
SLOW_SAVE = """import pathlib
import sys
import time

import sim.run

write_file = sim.run.write_file


def slow(path, image, **options):
    pathlib.Path("saving").touch()
    time.sleep(2)
    return write_file(path, image, **options)


sim.run.write_file = slow
sys.argv[0] = "ionlink-sim"
from sim.cli import entry_point

entry_point()
"""


def test_a_second_signal_while_the_masters_run_saves_says_so(tmp_path):
    """SIGINT stops the master (its run is asked to terminate); a SIGTERM while the run's results
    file is written waits for it: the master says the results are saved first, not that the run
    is stopped at once (it said so, and the file had no such mark); the file is complete and
    unmarked; ``submit --wait`` says terminated and exits 143, as the master does (it exited
    130 while the master exited 143)."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "looper.py").write_text(LOOPER)
    (tmp_path / "slow_save.py").write_text(SLOW_SAVE)
    master, control = _master(tmp_path, [sys.executable, "slow_save.py"])
    waiting = None
    try:
        assert master.stdout.readline().strip() == "ionlink simulated master is ready."
        log = _lines(master.stderr)
        waiting = _submit_wait(tmp_path, control, "looper.py")
        assert _until(lambda: (tmp_path / "started").exists(), 30), log
        master.send_signal(signal.SIGINT)
        assert _until(lambda: (tmp_path / "saving").exists(), 10), log
        master.send_signal(signal.SIGTERM)
        assert master.wait(20) == 143
        out, err = waiting.communicate(timeout=10)
    finally:
        for process in (master, waiting):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    warnings = [line.strip() for line in log if line.startswith("WARNING:sim.master")]
    assert not any("stopped at once" in line for line in warnings), log
    assert "WARNING:sim.master.cli:SIGTERM again: saving the results of RID 0 first" in warnings
    assert any("RID 0: terminated as requested" in line for line in warnings), log
    assert waiting.returncode == 143, err
    assert err.startswith("ionlink-sim: RID 0 terminated: the master stopped"), err
    results = pathlib.Path(out.split("results: ")[1].strip())
    with h5py.File(results, "r") as f:
        assert "ionlink.sim.stopped_at_once" not in f["datasets"]
        assert bool(f["datasets/ended"][()])


@pytest.mark.parametrize("nohup", [False, True])
def test_sighup_stops_the_master_as_sigterm_does(tmp_path, nohup):
    """A closing terminal (SIGHUP) stops the master cleanly, exit 0, as Ctrl-C and SIGTERM do
    (it killed it: no dataset store saved, no results file for the running experiment); under
    ``nohup`` (SIGHUP ignored) it goes on, and SIGTERM stops it."""
    (tmp_path / "repo").mkdir()
    master, _ = _master(tmp_path, [sys.executable, "-m", "sim"], ignore_sighup=nohup)
    try:
        assert master.stdout.readline().strip() == "ionlink simulated master is ready."
        master.send_signal(signal.SIGHUP)
        if nohup:
            time.sleep(1.0)
            assert master.poll() is None
            master.send_signal(signal.SIGTERM)
        _, err = master.communicate(timeout=20)
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
    assert master.returncode == 0, err
    assert "WARNING:sim.master.cli:stopping:" in err
