# SPDX-License-Identifier: LGPL-3.0-or-later
"""A full disk loses no data: the results file goes where there is room, one line says where.

The disk is made "full" without root by making the writes into one folder fail with ``ENOSPC``
(``os.replace`` or ``os.link``, with which every atomic write of the simulator ends (a results file
is linked into place, never over another), ``os.statvfs`` for the check
before a run, LMDB's commit). A real full tmpfs (as root) gave the same lines; see the README.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from pathlib import Path

import h5py
import lmdb
import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEVICE_DB = str(ROOT / "device_db.py")
ENOSPC = os.strerror(errno.ENOSPC)

EXPERIMENT = """
class Exp(EnvExperiment):
    def build(self):
        pass

    def run(self):
        self.set_dataset("heralds", 1000)
        self.set_dataset("calib.readout.x", 7, persist=True)  # (noted as this lab's)
"""


@pytest.fixture
def place(tmp_path, monkeypatch, write_experiment):
    """``tmp_path``'s folders: ``cwd`` (the working directory: dataset store, hardware state, run
    ids), ``systemp`` (the system's temporary folder), ``lab`` (the results); and the
    experiment."""
    folders = {name: tmp_path / name for name in ("cwd", "systemp", "lab")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.chdir(folders["cwd"])
    monkeypatch.setattr(tempfile, "tempdir", str(folders["systemp"]))
    folders["exp"] = Path(write_experiment(EXPERIMENT))
    return folders


def _fill(monkeypatch, *folders: Path) -> None:
    """Writing a file into ``folders`` (or below) fails with ENOSPC at its rename (or link) into
    place."""
    for name in ("replace", "link"):
        real = getattr(os, name)

        def into_place(src, dst, real=real, **kw):
            if any(Path(dst).resolve().is_relative_to(f.resolve()) for f in folders):
                raise OSError(errno.ENOSPC, ENOSPC, str(dst))
            return real(src, dst, **kw)

        monkeypatch.setattr(os, name, into_place)


def _run(place, *options: str) -> int:
    return main(["run", str(place["exp"]), "--device-db", DEVICE_DB, "-q", "--seed", "1", *options])


def _errors(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert all(line.startswith("ionlink-sim: error: ") for line in lines), err
    return [line[len("ionlink-sim: error: ") :] for line in lines]


def _strays(root: Path) -> list[Path]:
    """Temporary files left anywhere below ``root``."""
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and (p.suffix == ".tmp" or p.name.startswith("tmp"))
    ]


def test_results_go_to_the_working_directory_when_their_folder_is_full(
    place, tmp_path, monkeypatch, capsys
):
    results = place["lab"] / "results"
    _fill(monkeypatch, results)
    assert _run(place, "--results", str(results)) == 1
    fallback = place["cwd"] / "000000000-Exp.h5"
    assert _errors(capsys.readouterr().err) == [
        "results folder {} is full ({}): the results were written to {} instead".format(
            results, ENOSPC, fallback
        )
    ]
    with h5py.File(fallback) as f:
        assert f["datasets/heralds"][()] == 1000 and f["rid"][()] == 0
    assert not list(results.rglob("*.h5")) and not _strays(tmp_path)


def test_results_go_to_the_temporary_folder_next_and_replace_nothing(
    place, tmp_path, monkeypatch, capsys
):
    results = place["lab"] / "results"
    # (the working directory takes the run id, not the results file)
    _fill(monkeypatch, results, place["cwd"] / "000000000-Exp.h5")
    (place["systemp"] / "000000000-Exp.h5").write_text("an older file")
    assert _run(place, "--results", str(results)) == 1
    fallback = place["systemp"] / "000000000-Exp-1.h5"
    assert _errors(capsys.readouterr().err)[0].endswith(
        "the results were written to {} instead".format(fallback)
    )
    with h5py.File(fallback) as f:
        assert f["datasets/heralds"][()] == 1000
    assert (place["systemp"] / "000000000-Exp.h5").read_text() == "an older file"
    assert not _strays(tmp_path)


def test_results_nowhere_print_what_was_taken(place, tmp_path, monkeypatch, capsys):
    """No folder takes the file: one line says so, the datasets go to stdout (even with -q)."""
    results = place["lab"] / "results"
    _fill(monkeypatch, results, place["cwd"] / "000000000-Exp.h5", place["systemp"])
    assert _run(place, "--results", str(results)) == 1
    out, err = capsys.readouterr()
    (line,) = _errors(err)
    assert line.startswith("results folder {} is full ({}), and no other".format(results, ENOSPC))
    assert line.endswith("the results were not saved; the run's datasets follow on stdout")
    assert str(place["cwd"]) in line and str(place["systemp"]) in line
    assert "heralds: 1000" in out.splitlines()
    assert not list(tmp_path.rglob("*.h5")) and not _strays(tmp_path)


def test_a_full_disk_before_the_run_is_bad_input(place, tmp_path, monkeypatch, capsys):
    """Exit 2, one line naming the path, nothing written (not even the run id)."""
    full = place["lab"]
    real = os.statvfs

    def statvfs(path):
        st = real(path)
        if Path(path).resolve().is_relative_to(full.resolve()):
            return os.statvfs_result((4096, 4096, 100, 0, 0, *st[5:]))
        return st

    monkeypatch.setattr(os, "statvfs", statvfs)
    assert _run(place, "--results", str(full / "results")) == 2
    assert _errors(capsys.readouterr().err) == [
        "results folder '{}' is on a full disk ({})".format(full / "results", ENOSPC)
    ]
    assert not (place["cwd"] / "last_rid.pyon").exists() and not _strays(tmp_path)


def test_a_run_id_file_that_cannot_be_written_is_bad_input(place, tmp_path, monkeypatch, capsys):
    _fill(monkeypatch, place["cwd"] / "last_rid.pyon")
    assert _run(place, "--results", str(place["lab"] / "results")) == 2
    assert _errors(capsys.readouterr().err) == [
        "run-id file '{}' cannot be written ({})".format(place["cwd"] / "last_rid.pyon", ENOSPC)
    ]
    assert not list(tmp_path.rglob("*.h5")) and not _strays(tmp_path)


class _FullLMDB:
    """An LMDB environment whose write transactions fail to commit (a full disk)."""

    def __init__(self, env):
        self.env = env

    def begin(self, write=False):
        txn = self.env.begin(write=write)
        return _FailingCommit(txn) if write else txn

    def close(self):
        self.env.close()

    def __getattr__(self, name):  # info(), stat(): the environment's own
        return getattr(self.env, name)


class _FailingCommit:
    def __init__(self, txn):
        self.txn = txn

    def __enter__(self):
        return self.txn.__enter__()

    def __exit__(self, *exc):
        self.txn.abort()
        raise lmdb.DiskError("mdb_txn_commit: No space left on device")


def test_a_dataset_store_that_cannot_be_saved_says_so_once(place, tmp_path, monkeypatch, capsys):
    """The results file is kept; one line for the store (not repeated when the simulation
    closes); no stray file."""
    real = lmdb.open
    monkeypatch.setattr(lmdb, "open", lambda *a, **kw: _FullLMDB(real(*a, **kw)))
    results = place["lab"] / "results"
    assert _run(place, "--results", str(results)) == 1
    assert _errors(capsys.readouterr().err) == [
        "dataset store {} could not be saved ({}): the datasets set to persist since it was "
        "last saved are not stored".format(place["cwd"] / "dataset_db.mdb", ENOSPC)
    ]
    (kept,) = results.rglob("000000000-Exp.h5")
    with h5py.File(kept) as f:
        assert f["datasets/heralds"][()] == 1000
    assert not _strays(tmp_path)


def test_a_hardware_state_that_cannot_be_saved_says_so(place, tmp_path, monkeypatch, capsys):
    _fill(monkeypatch, place["cwd"] / "sim_state")
    assert _run(place, "--results", str(place["lab"] / "results")) == 1
    (line,) = _errors(capsys.readouterr().err)
    assert line.startswith("hardware-state file {}".format(place["cwd"] / "sim_state"))
    assert "could not be saved ({})".format(ENOSPC) in line
    assert not _strays(tmp_path)


def test_a_vcd_file_goes_where_there_is_room(place, tmp_path, monkeypatch, capsys):
    full = tmp_path / "full"
    _fill(monkeypatch, full)
    vcd = full / "run.vcd"
    assert _run(place, "--results", str(place["lab"] / "results"), "--vcd", str(vcd)) == 1
    assert _errors(capsys.readouterr().err) == [
        "the folder of the VCD file {} is full ({}): the VCD file was written to {} instead".format(
            vcd, ENOSPC, place["cwd"] / "run.vcd"
        )
    ]
    assert (place["cwd"] / "run.vcd").read_text().startswith("$comment RTIO timeline")
    assert not vcd.exists() and not _strays(tmp_path)


def test_hdf5_writes_in_memory_only(tmp_path, monkeypatch):
    """HDF5 never writes to the disk (its clean-up after a failed write on a full disk crashed
    the process): the file is made in memory and written out as bytes."""
    from sim.results import write_results

    real = h5py.File
    opened = []

    def file(name, *args, **kw):
        opened.append(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(h5py, "File", file)

    class Values:
        def write_hdf5(self, f, strict=True):
            f["x"] = 1

    path = write_results(
        tmp_path / "r.h5",
        Values(),
        rid=1,
        start_time=0.0,
        run_time=0.0,
        expid={},
        artiq_version="x",
    )
    assert opened and all(isinstance(name, io.BytesIO) for name in opened)
    with real(path) as f:
        assert f["x"][()] == 1


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    from sim.outputs import write_with_fallback
    from sim.results import write_file

    _fill(monkeypatch, tmp_path / "full")
    with pytest.raises(OSError):
        write_file(tmp_path / "full" / "f.bin", b"data")
    assert not list((tmp_path / "full").iterdir())
    saved = write_with_fallback(
        tmp_path / "full" / "f.bin", lambda p: write_file(p, b"data"), [tmp_path / "full", tmp_path]
    )
    assert saved.path == tmp_path / "f.bin" and saved.error.errno == errno.ENOSPC
    assert saved.tried == () and (tmp_path / "f.bin").read_bytes() == b"data"
