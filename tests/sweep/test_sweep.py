# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim sweep`` and ``ionlink-analyze sweep``: the same numbers on a Dask cluster as one
after the other, points on the workers of a scheduler the test starts, resume, failed points,
bad input, and the sweep file's ndscan layout."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import pytest

import sim.sweep_run as sweep_run
from analysis.cli import main as analyze
from sim.cli import main
from sim.sweep import Axis, SweepDefinition
from sim.sweep_point import run_point
from sim.sweep_run import run_sweep

ROOT = Path(__file__).resolve().parents[2]


def definition(**kw):
    base = dict(
        lab="oxford2020",
        fixed=(),
        arguments=(),
        axes=(Axis("bsa.mode_overlap", (0.9, 1.0)),),
        seeds=1,
        seed=5,
        heralds=1,
        mode="z",
        budget_only=False,
        calibration="lab",
        readout_shots=200,
        photon_attempts=3000,
    )
    base.update(kw)
    return SweepDefinition(**base)


def figures(record):
    return (
        record.heralds,
        record.attempts,
        record.p_success,
        record.rate_hz,
        record.fidelity,
        record.budget,
        record.error,
    )


@pytest.mark.slow
def test_local_cluster_gives_the_serial_numbers(tmp_path):
    """Two points, each a simulated sequence, on a LocalCluster of two worker processes: the
    same records as the same points run here one after the other with the same seeds."""
    d = definition()
    records = run_sweep(d, tmp_path / "s.h5", tmp_path / "s", workers=2)
    assert sorted(records) == [0, 1]
    assert len({r.worker for r in records.values()}) >= 1
    serial = [run_point(p) for p in d.points(tmp_path / "serial")]
    for point in serial:
        assert point.error is None, point.note
        assert point.heralds >= 1 and point.attempts > 100
        assert figures(records[point.index]) == figures(point)
    assert serial[0].seed != serial[1].seed  # SeedSequence children


def _start(args, env, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "distributed.cli." + args[0], *args[1:]],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_sweep_runs_on_the_workers_of_a_given_scheduler(tmp_path):
    """``dask scheduler`` and ``dask worker`` on loopback, started here: ``--scheduler`` sends
    every point to that worker."""
    from distributed import Client

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    sched_file = tmp_path / "scheduler.json"
    procs = [
        _start(
            [
                "dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            env,
            tmp_path,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(
            _start(
                [
                    "dask_worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                env,
                tmp_path,
            )
        )
        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            workers = set(client.scheduler_info()["workers"])
        out = tmp_path / "s.h5"
        argv = ["sweep", "--budget-only", "--set", "bsa.mode_overlap=0.9:1.0:3", "--seeds", "2"]
        assert main([*argv, "--scheduler", address, "-o", str(out), "-q"]) == 0
        with h5py.File(out) as f:
            table = f["sweep/points"][()]
        assert len(table) == 6
        assert {w.decode() for w in table["worker"]} == workers
        assert all(s == b"done" for s in table["status"])
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs[::-1]:
            p.wait(timeout=30)


def test_resume_skips_finished_points_and_reruns_failed_ones(tmp_path, monkeypatch):
    calls = []
    original = sweep_run.run_point

    def flaky(spec):
        calls.append(spec.index)
        if spec.index == 1 and len(calls) < 4:
            raise_in = spec.__class__(**{**spec.__dict__, "lab": "no-such-lab"})
            return original(raise_in)
        return original(spec)

    monkeypatch.setattr(sweep_run, "run_point", flaky)
    argv = ["sweep", "--budget-only", "--set", "bsa.mode_overlap=0.9,0.95,1.0", "--workers", "0"]
    argv += ["-o", str(tmp_path / "s.h5"), "-q"]
    assert main(argv) == 1  # point 1 failed, the others ran
    assert calls == [0, 1, 2]
    with h5py.File(tmp_path / "s.h5") as f:
        table = f["sweep/points"][()]
    assert [s.decode() for s in table["status"]] == ["done", "failed", "done"]
    assert "no-such-lab" in table["error"][1].decode()
    assert main(argv) == 0  # resumed: only the failed point runs again
    assert calls == [0, 1, 2, 1]
    assert main(argv) == 0 and calls == [0, 1, 2, 1]  # nothing left to run
    other = ["sweep", "--budget-only", "--set", "bsa.mode_overlap=0.9,1.0", "--workers", "0"]
    assert main([*other, "-o", str(tmp_path / "s.h5"), "-q"]) == 2  # another sweep: refused


@pytest.mark.parametrize(
    "setting, message",
    [
        ("bsa.mode_overlap=0.9:1.2:3", "bsa.mode_overlap = 1.05 is not physical"),
        ("bsa.mode_overlapp=0.9:1.0:3", "bsa.mode_overlapp: unknown key"),
        ("bsa.mode_overlap=0.9:1.0", "must be START:STOP:NUM"),
    ],
)
def test_bad_sweep_values_are_one_line_before_anything_runs(tmp_path, capsys, setting, message):
    out = tmp_path / "s.h5"
    assert main(["sweep", "--budget-only", "--set", setting, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ionlink-sim: error:") and message in err
    assert not out.exists()


@pytest.mark.parametrize(
    "arg, message",
    [
        ("heralds_per_setting=2,0", "argument 'heralds_per_setting' = 0 is out of range: must be"),
        ("heralds_per_setting=1.5", "'heralds_per_setting' = 1.5 is not an integer"),
        ("cycle_length=1e-6:2e-5:3", "argument 'cycle_length' = 1.05e-05 is out of range"),
        ('mode="z","bell"', "argument 'mode' = 'bell' is not allowed: must be one of 'z'"),
        ("herald_timeot=5,6", "has no argument 'herald_timeot' (its arguments: check_every"),
    ],
)
def test_bad_argument_sweep_values_are_one_line_before_any_point_runs(
    tmp_path, capsys, monkeypatch, arg, message
):
    """``--arg`` values are checked against the experiment's declared arguments (type, range,
    choices, name) up front: exit 2, one line, no point run, no sweep file."""
    ran = []
    monkeypatch.setattr(sweep_run, "run_point", lambda spec: ran.append(spec))
    out = tmp_path / "s.h5"
    argv = ["sweep", "--arg", arg, "--workers", "0", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ionlink-sim: error:") and message in err
    assert not out.exists() and ran == []


def test_sweep_file_has_ndscan_layout_and_analyze_lists_the_points(tmp_path, capsys):
    out = tmp_path / "s.h5"
    argv = ["sweep", "--budget-only", "--set", "bsa.mode_overlap=0.9:1.0:3", "--seeds", "2"]
    argv += ["--set", "loop.cool_s=3e-5", "--workers", "0", "-o", str(out), "-q"]
    assert main(argv) == 0
    with h5py.File(out) as f:
        d = f["datasets"]
        assert d["ndscan.ndscan_schema_revision"][()] == 2
        axes = json.loads(d["ndscan.axes"][()])
        channels = json.loads(d["ndscan.channels"][()])
        assert [a["param"]["fqn"] for a in axes] == ["ionlink.sweep.bsa.mode_overlap"]
        assert list(d["ndscan.points.axis_0"][()]) == [0.9, 0.9, 0.95, 0.95, 1.0, 1.0]
        for name in channels:
            assert len(d["ndscan.points.channel_" + name]) == 6
        assert {"p_success", "rate_hz", "fidelity", "budget_fidelity"} <= set(channels)
        assert d["ndscan.completed"][()]
    capsys.readouterr()
    assert analyze(["sweep", str(out), "--json", "-o", str(tmp_path / "plot.png")]) == 0
    points = json.loads(capsys.readouterr().out)
    assert len(points) == 6 and (tmp_path / "plot.png").stat().st_size > 10_000
    first = points[0]
    assert first["parameters"] == {"bsa.mode_overlap": 0.9}
    assert first["error"] is None and first["fidelity"]["value"] is None  # budget only
    budget = [p["budget"]["fidelity"] for p in points[::2]]
    assert budget == sorted(budget) and budget[0] < budget[-1] - 0.03
    assert len({p["seed"] for p in points}) == 6


def test_fibre_sweep_on_two_chassis_follows_the_link(tmp_path, capsys):
    """``--device-db device_db_drtio.py``: every point runs node B on a satellite, the ``[drtio]``
    keys can be swept and the budget is the two-chassis one. The herald rate measured at 2 m and
    20 km of fibre (30 Z heralds each) agrees with that budget within 3σ (Poisson) and falls by
    more than 2× with the fibre (the heralding loop waits for the link's round trip). The
    definition carries the database (a sweep on it is another sweep) and a sweep on the default
    database keeps its fingerprint."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--device-db", str(ROOT / "device_db_drtio.py")]
    argv += ["--set", "drtio.fibre_m=2,20000", "--mode", "z", "--heralds", "30"]
    assert main([*argv, "--calibration", "lab", "--workers", "0", "-o", str(out), "-q"]) == 0
    assert analyze(["sweep", str(out), "--json", "-o", str(tmp_path / "plot.png")]) == 0
    points = json.loads(capsys.readouterr().out)
    assert [p["parameters"]["drtio.fibre_m"] for p in points] == [2.0, 20000.0]
    rates = []
    for p in points:
        assert p["error"] is None and p["heralds"] == 30
        rate, budget = p["rate_hz"]["value"], p["budget"]["rate_hz"]
        assert abs(rate - budget) < 3 * rate / 30**0.5, (rate, budget)
        rates.append(rate)
    assert rates[1] < 0.5 * rates[0]
    assert points[1]["budget"]["rate_hz"] < 0.5 * points[0]["budget"]["rate_hz"]
    d = definition()
    assert d.fingerprint() == SweepDefinition(**{**d.__dict__, "device_db": None}).fingerprint()
    two = SweepDefinition(**{**d.__dict__, "device_db": str(ROOT / "device_db_drtio.py")})
    assert two.fingerprint() != d.fingerprint() and two.points(tmp_path)[0].device_db


def test_points_get_the_absolute_folder_for_workers_elsewhere(tmp_path, monkeypatch):
    """``-o s.h5`` relative: each point is sent its folder as an absolute path, so a worker of
    ``--scheduler`` started in another folder (on a shared file system) writes the point where
    the sweep keeps its record; it got ``s/point_00000``, relative to the worker's folder."""
    from sim.sweep_point import PointRecord

    sent = []

    def record(spec):
        sent.append(spec.folder)
        return PointRecord(spec.index, dict(spec.parameters), spec.seed_index, spec.seed)

    monkeypatch.setattr(sweep_run, "run_point", record)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--budget-only", "--workers", "0", "-o", "s.h5", "-q"]) == 0
    assert sent == [str(tmp_path.resolve() / "s" / "point_00000")]


#: both points of :func:`test_identical_sweeps_in_two_folders_run_their_own_points` running
_BOTH_RUNNING = threading.Barrier(2)


def _point_in_its_folder(spec):
    """A point that waits until another runs beside it (one shared task: never), then leaves
    a mark in its folder."""
    from sim.sweep_point import PointRecord

    _BOTH_RUNNING.wait(timeout=20)
    Path(spec.folder).mkdir(parents=True, exist_ok=True)
    (Path(spec.folder) / "ran").write_text(spec.folder)
    return PointRecord(spec.index, dict(spec.parameters), spec.seed_index, spec.seed)


def test_identical_sweeps_in_two_folders_run_their_own_points(tmp_path, monkeypatch):
    """Two identical sweeps kept in two folders, at once on one scheduler: each runs its own
    points into its own folder. A scheduler runs a key once for every client that asks for it:
    with the sweep's fingerprint and the point's index as the key, the second sweep was handed
    the first's records (their files in the first's folder), and its own folder got none."""
    from distributed import Client, LocalCluster

    _BOTH_RUNNING.reset()
    d = definition(axes=(Axis("bsa.mode_overlap", (0.9,)),), budget_only=True)
    # (in-process: no network at all)
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        monkeypatch.setattr(sweep_run, "run_point", _point_in_its_folder)
        monkeypatch.setattr(
            sweep_run, "_client", lambda scheduler, workers: (Client(cluster), None)
        )
        records = {}

        def sweep(name):
            records[name] = run_sweep(
                d, tmp_path / f"{name}.h5", tmp_path / name, scheduler=cluster.scheduler_address
            )

        threads = [threading.Thread(target=sweep, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    for name in ("a", "b"):
        assert records[name][0].error is None
        ran = tmp_path / name / "point_00000" / "ran"
        assert ran.read_text() == str((tmp_path / name / "point_00000").resolve())
