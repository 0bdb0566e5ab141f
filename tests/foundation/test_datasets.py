# SPDX-License-Identifier: LGPL-3.0-or-later
"""The LMDB dataset store is ARTIQ 9's ``dataset_db.mdb`` format, both ways (PYON:
tests/analysis/test_pyon.py)."""

from __future__ import annotations

import os
import shutil

import lmdb
import numpy as np

from sim.datasets import DatasetDB

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def test_round_trip(tmp_path):
    """Persistent entries survive save/reopen with value and metadata; others are not stored."""
    path = tmp_path / "dataset_db.mdb"
    with DatasetDB(path) as db:
        db.set("calib.x", np.arange(3), persist=True, metadata={"unit": "us"})
        db.set("calib.t", (1, "a"), persist=True)
        db.set("volatile", 5, persist=False)
    db = DatasetDB(path)
    assert db.get("calib.x").tolist() == [0, 1, 2]
    assert db.get_metadata("calib.x") == {"unit": "us"}
    assert db.get("calib.t") == (1, "a")
    assert "volatile" not in db.data
    db.delete("calib.t")
    db.save()
    db.close_db()
    assert "calib.t" not in DatasetDB(path).data


def test_raw_lmdb_format(tmp_path):
    """Key = UTF-8 name, value = PYON v2 of the tuple (value, metadata)."""
    path = tmp_path / "dataset_db.mdb"
    with DatasetDB(path) as db:
        db.set("k", 1.5, persist=True, metadata={"unit": "MHz"})
    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
    with env.begin() as txn:
        raw = dict(txn.cursor())
    env.close()
    assert raw == {b"k": b'{"__jsonclass__":["tuple",[[1.5,{"unit":"MHz"}]]]}'}


def test_reads_artiq_written_dataset_db(tmp_path):
    """A dataset_db.mdb written by ARTIQ 9's DatasetDB (data/make_artiq_dataset_db.py) loads."""
    path = tmp_path / "dataset_db.mdb"
    shutil.copy(os.path.join(DATA, "artiq9_dataset_db.mdb"), path)
    db = DatasetDB(path)
    assert db.get("calib.readout.threshold_a") == 3
    assert db.get("calib.freq") == 1.5e6
    assert db.get_metadata("calib.freq") == {"unit": "MHz", "precision": 4}
    assert db.get("calib.array").dtype == np.int32
    assert db.get("calib.tuple") == (1, "a")
    assert "not_persisted" not in db.data


def test_a_truncated_store_is_one_line_not_a_crash(tmp_path):
    """A ``dataset_db.mdb`` cut short (a copy interrupted) killed ``ionlink-sim run`` with SIGBUS
    (exit 135, "Bus error": LMDB maps the file and read a page past its end); now it is bad
    input, one line naming the file, exit 2. (In a child process: without the check it dies.)"""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = tmp_path / "dataset_db.mdb"
    with DatasetDB(path) as db:
        for i in range(40):
            db.set(f"calib.x{i}", np.arange(200), persist=True)
    data = path.read_bytes()
    assert len(data) > 5 * 4096
    path.write_bytes(data[:12288])
    (tmp_path / "exp.py").write_text(
        "from artiq.experiment import *\n"
        "class Exp(EnvExperiment):\n"
        "    def build(self):\n        pass\n"
        "    def run(self):\n        pass\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "sim", "run", "exp.py", "-q", "--lab", "oxford2020"]
        + ["--device-db", os.path.join(root, "device_db.py")],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=root),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, (r.returncode, r.stderr)
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("ionlink-sim: error: cannot open dataset store") and "truncated" in line
    assert "12288 bytes" in line
