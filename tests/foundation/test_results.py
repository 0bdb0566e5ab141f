# SPDX-License-Identifier: LGPL-3.0-or-later
"""Results files: ARTIQ's layout, written after analyze / when run raises / on termination; rids."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from artiq.experiment import EnvExperiment, NumberValue, TerminationRequested

from comms import pyon
from sim.cli import main
from sim.results import RIDCounter, RIDFileError, results_path

ROOT = Path(__file__).resolve().parents[2]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FOREIGN = "/work/shared/data/artiq5_foreign_lab.h5"
ROOT_DATASETS = {"artiq_version", "rid", "start_time", "run_time", "expid"}


class Full(EnvExperiment):
    """Sets the same datasets as data/make_artiq_reference.py."""

    def build(self):
        self.setattr_argument("n", NumberValue(1, precision=0, step=1))

    def run(self):
        self.set_dataset("scalar.int", 3)
        self.set_dataset("scalar.float", 2.5, unit="us", scale=1e-6, precision=3)
        self.set_dataset("flag", True)
        self.set_dataset("text", "hello")
        self.set_dataset("array", np.arange(6, dtype=np.int64).reshape(2, 3), broadcast=True)
        self.set_dataset("list", [1.0, 2.0])
        self.get_dataset("calib.f")


def _structure(f):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = (obj.shape, obj.dtype.kind, dict(obj.attrs))
        else:
            out[name] = "group"

    f.visititems(visit)
    return out


def _run_full(simulation):
    simulation.dataset_db.set("calib.f", 1.5e6, persist=True, metadata={"unit": "MHz"})
    return simulation.run(Full, arguments={"n": 1})


def test_layout_matches_artiq_reference(simulation):
    """Same groups, datasets, shapes, kinds and attributes as a file written by ARTIQ 9."""
    result = _run_full(simulation)
    assert result.exit_code == 0
    with (
        h5py.File(result.results_file) as ours,
        h5py.File(os.path.join(DATA, "artiq9_reference.h5")) as ref,
    ):
        mine = {k: v for k, v in _structure(ours).items() if "ionlink.sim." not in k}
        theirs = _structure(ref)
        for d in (mine, theirs):
            d["datasets/scalar.float"][2]["precision"] = int(
                d["datasets/scalar.float"][2]["precision"]
            )
        assert mine == theirs
        assert ours["expid"][()].decode().startswith('{"log_level":')
        assert ours["artiq_version"][()].decode()


def test_root_and_expid(simulation):
    """Root datasets and the expid content (file, class_name, arguments, log_level); start and
    run times are host wall-clock times taken during the run, and the file is filed under the
    start time's local date and hour."""
    before = time.time()
    result = _run_full(simulation)
    after = time.time()
    with h5py.File(result.results_file) as f:
        assert ROOT_DATASETS <= set(f)
        assert f["rid"][()] == result.rid
        start, run = float(f["start_time"][()]), float(f["run_time"][()])
        assert before <= start <= run <= after
        t = time.localtime(start)
        assert Path(result.results_file).parent.parts[-2:] == (
            time.strftime("%Y-%m-%d", t),
            time.strftime("%H", t),
        )
        expid = pyon.decode(f["expid"][()])
        assert expid["class_name"] == "Full" and expid["arguments"] == {"n": 1}
        assert {"file", "log_level"} <= set(expid)
        assert f["archive/calib.f"][()] == 1.5e6
        assert f["datasets/ionlink.sim.seed"][()] == -1
        assert f["datasets/ionlink.sim.min_slack_mu"][()] == 1000
    assert result.results_file == results_path(
        simulation.results_dir, result.rid, "Full", f_start(result)
    )


def f_start(result):
    with h5py.File(result.results_file) as f:
        return f["start_time"][()]


def test_same_structure_as_foreign_artiq5_file(simulation):
    """The foreign lab's ARTIQ 5 file has the same root datasets and groups."""
    if not os.path.exists(FOREIGN):
        pytest.skip("foreign file not available")
    result = _run_full(simulation)
    with h5py.File(result.results_file) as ours, h5py.File(FOREIGN) as theirs:
        assert set(ours) == set(theirs) == ROOT_DATASETS | {"datasets", "archive"}
        for key in ROOT_DATASETS:
            assert ours[key].shape == theirs[key].shape == ()
            assert ours[key].dtype.kind == theirs[key].dtype.kind


def test_rid_increments_persistently(tmp_path, simulation):
    """Rids continue from last_rid.pyon (in the results' parent), as the master's counter."""
    first = simulation.run(Full, arguments={})
    second = simulation.run(Full, arguments={})
    assert second.rid == first.rid + 1
    assert (tmp_path / "last_rid.pyon").read_text() == "{}\n".format(second.rid)
    (tmp_path / "last_rid.pyon").unlink()
    assert RIDCounter(tmp_path / "last_rid.pyon", tmp_path / "results").get() == second.rid + 1


def _take_rids(cache: str, results: str, n: int, out) -> None:
    out.put([RIDCounter(cache, results).get() for _ in range(n)])


def test_processes_sharing_a_folder_take_distinct_rids(tmp_path):
    """Two processes (two labs' simulations in one folder) take 300 run ids each from one
    ``last_rid.pyon``: 600 distinct ids, the file at the last. Without the lock their reads and
    writes interleaved and ids were given twice (their results files then share a name)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    args = (str(tmp_path / "last_rid.pyon"), str(tmp_path / "results"), 300, out)
    procs = [ctx.Process(target=_take_rids, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    got = out.get(timeout=120) + out.get(timeout=120)
    for p in procs:
        p.join(timeout=60)
    assert sorted(got) == list(range(600))
    assert (tmp_path / "last_rid.pyon").read_text() == "599\n"


def test_a_run_id_given_again_keeps_the_earlier_file(tmp_path, simulation, caplog):
    """``last_rid.pyon`` put back (a restored folder, an edit) gives a run id again: the run's
    results go next to the file of that name, which is kept byte for byte, with a warning.
    Before, the new file replaced it: the earlier run's data were lost."""
    simulation.run(Full, arguments={})
    first = simulation.run(Full, arguments={})
    kept = Path(first.results_file).read_bytes()
    (tmp_path / "last_rid.pyon").write_text("{}\n".format(first.rid - 1))
    again = simulation.run(Full, arguments={"n": 2})
    assert again.rid == first.rid
    assert Path(first.results_file).read_bytes() == kept
    assert Path(again.results_file) == Path(first.results_file).with_name(
        Path(first.results_file).stem + "-1.h5"
    )
    with h5py.File(again.results_file) as f:
        assert '"arguments":{"n":2}' in f["expid"][()].decode()
    assert "exists (run id {} used before)".format(first.rid) in caplog.text


@pytest.mark.parametrize("contents", ["garbage(", "-5\n", "", "2.5"])
def test_bad_rid_file_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, contents):
    """A ``last_rid.pyon`` that holds no run id (not an integer ≥ 0): one line naming it, exit 2,
    nothing run or written (not ``internal error``, nor a negative rid naming a results file)."""
    monkeypatch.chdir(tmp_path)
    rid_file = tmp_path / "last_rid.pyon"
    rid_file.write_text(contents)
    experiment = tmp_path / "exp.py"
    experiment.write_text(
        "from artiq.experiment import *\nclass E(EnvExperiment):\n  def run(self): pass\n"
    )
    argv = ["run", str(experiment), "--device-db", str(ROOT / "device_db.py"), "--lab", "none"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"ionlink-sim: error: run-id file '{rid_file}' does not hold a run id"
    )
    assert rid_file.read_text() == contents
    assert not list(tmp_path.rglob("*.h5"))
    with pytest.raises(RIDFileError, match="last_rid.pyon"):
        RIDCounter(rid_file, tmp_path / "results").get()


class Raises(EnvExperiment):
    def run(self):
        self.set_dataset("before", 1)
        raise RuntimeError("boom")

    def analyze(self):
        raise AssertionError("analyze must not run")


class BuildFails(EnvExperiment):
    def build(self):
        raise RuntimeError("bad build")

    def run(self):
        pass


def test_run_raises_writes_file(simulation):
    """If run() raises, the file is written at once and the exit code is 1."""
    result = simulation.run(Raises)
    assert result.exit_code == 1 and "boom" in result.error_message
    with h5py.File(result.results_file) as f:
        assert f["datasets/before"][()] == 1


def test_build_failure_writes_nothing(simulation):
    """No results file if build fails."""
    result = simulation.run(BuildFails)
    assert result.exit_code == 1 and result.results_file is None
    assert not list(simulation.results_dir.rglob("*.h5"))


class Interrupted(EnvExperiment):
    def build(self):
        self.setattr_device("scheduler")

    def run(self):
        for i in range(100):
            self.set_dataset("last", i)
            if i == 5:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
                time.sleep(0.01)
            if self.scheduler.check_termination():
                self.set_dataset("saw_termination", True)
            self.scheduler.pause()


def test_ctrl_c_terminates_and_writes_file(simulation):
    """Ctrl-C requests termination: pause() raises TerminationRequested, exit 130, file written."""
    result = simulation.run(Interrupted)
    assert result.exit_code == 130
    assert isinstance(result.exception, TerminationRequested)
    with h5py.File(result.results_file) as f:
        assert f["datasets/last"][()] == 5
        assert f["datasets/saw_termination"][()]


class Unwritable(EnvExperiment):
    def run(self):
        self.set_dataset("names", {"a": (1, 2)})


def test_unwritable_value_kept_as_pyon(simulation):
    """A value h5py cannot store is kept as a PYON string (nothing is lost)."""
    result = simulation.run(Unwritable)
    with h5py.File(result.results_file) as f:
        assert pyon.decode(f["datasets/names"][()]) == {"a": (1, 2)}
        assert f["datasets/names"].attrs["ionlink_pyon"]


def test_progress_dataset_drives_bar(tmp_path, session, capsys):
    """ionlink.progress updates a tqdm bar when progress is on."""
    import ionlink_fakes

    from sim.runner import Simulation

    class Progress(EnvExperiment):
        def run(self):
            for i in range(5):
                self.set_dataset("ionlink.progress", (i + 1) / 5, broadcast=True, archive=False)

    with Simulation(
        ionlink_fakes.device_db(),
        results_dir=tmp_path / "r",
        dataset_db=False,
        session=session,
        progress=True,
    ) as sim:
        assert sim.run(Progress).exit_code == 0
    assert "1000/1000" in capsys.readouterr().err


def test_a_file_system_without_hard_links_still_gets_the_file(tmp_path, monkeypatch):
    """``os.link`` refused (FAT, some network shares: EPERM): the results file is renamed into
    place after a check, not lost; an existing file is still kept."""
    import errno

    from sim.results import write_file

    def no_link(src, dst):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(dst))

    monkeypatch.setattr(os, "link", no_link)
    write_file(tmp_path / "a.h5", b"one", replace=False)
    assert (tmp_path / "a.h5").read_bytes() == b"one"
    with pytest.raises(FileExistsError):
        write_file(tmp_path / "a.h5", b"two", replace=False)
    assert (tmp_path / "a.h5").read_bytes() == b"one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]
