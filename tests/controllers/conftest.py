# SPDX-License-Identifier: LGPL-3.0-or-later
"""Controllers started as artiq_ctlmgr starts them: their command line in a process of its own,
on free loopback ports; stopped through the RPC ``terminate`` (or killed by the test)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from comms.server import wait_for_server

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_controller(module: str, *args: str) -> subprocess.Popen:
    """``python -m drivers.controllers.<module> *args`` with this worktree importable."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", f"drivers.controllers.{module}", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


@pytest.fixture
def waveplates_ctl() -> Iterator[tuple[subprocess.Popen, int]]:
    """``aqctl_ionlink_waveplates --simulation`` on a free port; yields (process, port)."""
    port = free_port()
    proc = start_controller("aqctl_ionlink_waveplates", "--simulation", "-p", str(port))
    for host in ("127.0.0.1", "::1"):  # the default bind, one address after the other
        wait_for_server(host, port, 20)
    yield proc, port
    stop(proc)


@pytest.fixture
def timetagger_ctl() -> Iterator[tuple[subprocess.Popen, int]]:
    """``aqctl_ionlink_timetagger --simulation`` on three free ports (RPC, stream, feed);
    yields (process, RPC port); the stream and feed ports are RPC + 1 and + 2 unless taken."""
    port = free_port()
    stream, feed = free_port(), free_port()
    proc = start_controller(
        "aqctl_ionlink_timetagger",
        "--simulation",
        "-p",
        str(port),
        "--stream-port",
        str(stream),
        "--feed-port",
        str(feed),
    )
    for host in ("127.0.0.1", "::1"):  # the default bind, one address after the other
        wait_for_server(host, port, 20)
    proc.ports = (port, stream, feed)  # type: ignore[attr-defined]
    yield proc, port
    stop(proc)
