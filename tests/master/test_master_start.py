# SPDX-License-Identifier: LGPL-3.0-or-later
"""A master that cannot listen leaves its folder as it was: ``ionlink-sim master`` started while
one of its ports is taken says so in one line and exits 2, without creating the dataset store,
``results/`` or ``sim_state/`` (it created all three, empty, before it found the port taken),
and without touching a dataset store already there. Loopback only."""

from __future__ import annotations

import hashlib
import os
import pathlib
import socket
import subprocess
import sys

from master_ports import free_ports

from sim.datasets import DatasetDB

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), IONLINK_COMMS="ionlink")
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    return env


def _start_on_a_taken_port(folder: pathlib.Path) -> subprocess.CompletedProcess:
    """``ionlink-sim master`` in ``folder`` while a socket on 127.0.0.1 holds its control port."""
    notify, bcast, logport = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        control = taken.getsockname()[1]
        cmd = [sys.executable, "-m", "sim", "master", "--device-db", str(ROOT / "device_db.py")]
        cmd += ["-r", str(ROOT / "repository"), "--lab", "oxford2020", "--no-applets"]
        cmd += ["--port-notify", str(notify), "--port-control", str(control)]
        cmd += ["--port-broadcast", str(bcast), "--port-logging", str(logport)]
        cmd += ["--no-localhost-bind", "--bind", "127.0.0.1"]
        done = subprocess.run(
            cmd, cwd=folder, env=_env(), capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("ionlink-sim: error: cannot listen: "), done.stderr
    assert str(control) in done.stderr and "in use" in done.stderr, done.stderr
    return done


def _snapshot(folder: pathlib.Path) -> dict[str, str]:
    """Every file and folder under ``folder``, with a digest of each file's bytes."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


def test_a_master_on_a_taken_port_creates_nothing(tmp_path):
    """A fresh folder stays empty."""
    _start_on_a_taken_port(tmp_path)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_master_on_a_taken_port_keeps_the_dataset_store(tmp_path):
    """A folder with a dataset store: the store (its bytes, its modification time) and the folder
    are as they were (the failed start used to save the store, with the lab's seeded datasets,
    and leave a lock file, ``results/`` and ``sim_state/``)."""
    with DatasetDB(tmp_path / "dataset_db.mdb") as store:
        store.set("kept", 42, persist=True)
    (tmp_path / "dataset_db.mdb-lock").unlink()
    before = _snapshot(tmp_path)
    mtime = (tmp_path / "dataset_db.mdb").stat().st_mtime_ns
    _start_on_a_taken_port(tmp_path)
    assert _snapshot(tmp_path) == before == {"dataset_db.mdb": before["dataset_db.mdb"]}
    assert (tmp_path / "dataset_db.mdb").stat().st_mtime_ns == mtime
