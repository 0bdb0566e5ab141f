# SPDX-License-Identifier: LGPL-3.0-or-later
"""The device_db's controller entries start as ``artiq_ctlmgr`` starts them: the command with
``{name}``, ``{bind}`` (the controller's host, here ::1, which the loopback default already
binds) and the entry's keys substituted, split like a shell line; the controller then answers
``ping()`` on the entry's host and ``terminate`` stops it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from comms import pc_rpc
from comms.server import wait_for_server
from sim.device_manager import load_device_db

from .conftest import ROOT, free_port, stop

DDB = load_device_db(ROOT / "device_db.py")


@pytest.mark.parametrize("name", ["waveplates", "timetagger"])
def test_entry_starts_like_artiq_ctlmgr(name):
    entry = dict(DDB[name])
    assert entry["type"] == "controller" and entry["host"] == "::1"
    entry["port"] = free_port()
    argv = shlex.split(entry["command"].format(name=name, bind=entry["host"], **entry))
    assert argv[0] == f"aqctl_ionlink_{name}"
    argv = [sys.executable, "-m", f"drivers.controllers.{argv[0]}", *argv[1:]]
    if name == "timetagger":
        argv += ["--stream-port", str(free_port()), "--feed-port", str(free_port())]
    proc = subprocess.Popen(
        argv, env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_server("::1", entry["port"], 20)
        c = pc_rpc.Client(entry["host"], entry["port"], timeout=5)
        assert c.get_rpc_id()[0] == [name] and c.ping() is True
        c.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)
