# SPDX-License-Identifier: LGPL-3.0-or-later
"""Standalone applets and the applet host as a user runs them, against ``ionlink-sim master`` on
free loopback ports: Ctrl-C and SIGTERM close them within a second, exit status 0 (before:
Ctrl-C was ignored while no dataset changed); no master is one line naming the address tried,
exit 2 (before: a traceback, exit 1); a master that goes away is one line, exit 3."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "master"))

from master_ports import free_ports  # noqa: E402

#: seconds an applet is given to connect to the master (:func:`_following_master`)
CONNECT_S = 30.0


def _following_master(process: subprocess.Popen, port: int) -> None:
    """Wait until ``process`` holds an established connection to the master's ``port`` (its
    dataset subscription: it follows the master), at most :data:`CONNECT_S` (a fixed wait was
    too short on a loaded machine)."""
    import psutil

    proc = psutil.Process(process.pid)
    deadline = time.monotonic() + CONNECT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            # (psutil >= 6 names it net_connections; distributed, which brings psutil, allows 5)
            conns = getattr(proc, "net_connections", proc.connections)(kind="tcp")
        except psutil.Error:
            conns = []
        if any(c.raddr and c.raddr.port == port and c.status == "ESTABLISHED" for c in conns):
            return
        time.sleep(0.05)
    raise AssertionError(f"the applet did not connect to port {port} in {CONNECT_S} s")


@dataclass(frozen=True)
class Ports:
    """A master's ports."""

    notify: int
    control: int
    broadcast: int
    logging: int


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), IONLINK_COMMS="ionlink")
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _start_master(folder: pathlib.Path, ports: Ports) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "sim", "master", "--device-db", str(ROOT / "device_db.py")]
    cmd += ["-r", str(ROOT / "repository"), "--lab", "oxford2020", "--no-applets"]
    cmd += ["--port-notify", str(ports.notify), "--port-control", str(ports.control)]
    cmd += ["--port-broadcast", str(ports.broadcast), "--port-logging", str(ports.logging)]
    cmd += ["--no-localhost-bind", "--bind", "127.0.0.1"]
    master = subprocess.Popen(
        cmd, cwd=folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert master.stdout is not None
    assert master.stdout.readline().strip() == "ionlink simulated master is ready."
    return master


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    ports = Ports(*free_ports(4))
    process = _start_master(tmp_path_factory.mktemp("master"), ports)
    try:
        yield ports
    finally:
        _stop(process)


def _applet(module: str, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _following(ports: Ports) -> list[str]:
    """The options that point an applet at the master on ``ports``."""
    return [
        "--server", "127.0.0.1",
        "--port-notify", str(ports.notify),
        "--port-control", str(ports.control),
    ]  # fmt: skip


def _herald_rate(ports: Ports) -> subprocess.Popen:
    return _applet("applets.herald_rate", *_following(ports))


def _host(ports: Ports) -> subprocess.Popen:
    return _applet(
        "applets.host", "--ionlink", *_following(ports), "--port-broadcast", str(ports.broadcast)
    )


def _signalled(process: subprocess.Popen, signum: int, port: int) -> tuple[int, float, str]:
    """Exit status, seconds from ``signum`` to the exit, and stderr of ``process``, signalled
    once it follows the master on ``port`` (then 0.5 s, in which it shows its window)."""
    try:
        _following_master(process, port)
        time.sleep(0.5)
        assert process.poll() is None, process.communicate()
        sent = time.monotonic()
        process.send_signal(signum)
        _, err = process.communicate(timeout=10)
        return process.returncode, time.monotonic() - sent, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("start", [_herald_rate, _host], ids=["herald_rate", "host"])
def test_a_signal_closes_the_window(master, start, signum):
    status, seconds, err = _signalled(start(master), signum, master.notify)
    assert status == 0, err
    assert seconds < 2.0
    assert "Traceback" not in err, err


#: run an applet's ``main`` with ``TARGET`` (module attribute) wrapped to send this process
#: SIGINT first: a Ctrl-C that comes while the window is being made
_SIGNAL_DURING_BUILD = """
import importlib, os, signal, sys, time
module, attr = sys.argv[1].rsplit(".", 1)
owner = importlib.import_module(module)
inner = getattr(owner, attr)

def signalled(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # (a handler would run here, inside the build)
    return inner(*args, **kwargs)

setattr(owner, attr, signalled)
app = importlib.import_module(sys.argv[2])
sys.argv = [sys.argv[2], *sys.argv[3:]]
status = app.main()
sys.exit(status or 0)
"""


@pytest.mark.parametrize(
    "target, module, extra",
    [
        ("applets.standalone.AppletFeed", "applets.herald_rate", []),
        ("applets.host._ionlink_applets", "applets.host", ["--ionlink"]),
    ],
    ids=["herald_rate", "host"],
)
def test_a_signal_while_the_window_is_made_closes_it(master, target, module, extra):
    """A Ctrl-C that comes after the applet started but before its window is shown (connecting,
    building the plots: over a second on a loaded machine) closes it, exit 0, as one after it
    does; before: a KeyboardInterrupt traceback out of the widget's build, killed by SIGINT."""
    argv = [*_following(master), *extra]
    if module == "applets.host":
        argv += ["--port-broadcast", str(master.broadcast)]
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_DURING_BUILD, target, module, *argv],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def _run(module: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_master_is_one_line(master):
    unused = str(free_ports(1)[0])
    done = _run("applets.herald_rate", "--port-control", unused)
    assert (done.returncode, done.stderr) == (
        2,
        f"herald_rate.py: error: cannot connect to the master at [::1]:{unused}: "
        "Connection refused\n",
    )
    control = str(master.control)
    done = _run(
        "applets.herald_rate", "--server", "127.0.0.1", "--port-control", control,
        "--port-notify", unused,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (
        2,
        f"herald_rate.py: error: cannot connect to the master at [127.0.0.1]:{unused}: "
        "Connection refused\n",
    )


def test_a_master_that_goes_away_is_one_line(tmp_path):
    ports = Ports(*free_ports(4))
    master = _start_master(tmp_path, ports)
    applet = _herald_rate(ports)
    try:
        _following_master(applet, ports.notify)
        assert _stop(master) == 0
        _, err = applet.communicate(timeout=10)
    finally:
        _stop(master)
        if applet.poll() is None:
            applet.kill()
            applet.wait()
    assert applet.returncode == 3
    assert err == "herald_rate.py: error: lost the master at [127.0.0.1]:{}: disconnected\n".format(
        ports.notify
    )


def test_close_on_signals_calls_close_and_puts_the_handlers_back(qapp):
    import asyncio

    from applets.signals import close_on_signals

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    loop = asyncio.new_event_loop()
    closed: list[bool] = []
    try:
        restore = close_on_signals(lambda signum: closed.append(signum), qapp, loop)
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt: the handler is ours
        loop.run_until_complete(asyncio.sleep(0))
        assert closed == [signal.SIGINT]
        restore()
    finally:
        loop.close()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
