# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim sweep`` stopped by Ctrl-C or SIGTERM while its local cluster runs points: one line,
exit 130 or 143, at once (Ctrl-C waited 4 s for Dask's nannies to give up on the running points,
with their warnings on stderr; SIGTERM killed the command with no line of its own, only the
resource tracker's warning of leaked semaphores, and status -15)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import h5py
import psutil
import pytest

from tests.cli_signal import signal_cli


def _processes_in(folder: Path) -> list[psutil.Process]:
    """The live processes whose working directory is ``folder`` (the sweep's workers)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and Path(proc.cwd()) == folder:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_sweep_stopped_by_a_signal_kills_its_workers_at_once(tmp_path, signum):
    argv = ["sweep", "--set", "bsa.mode_overlap=0.9,1.0", "--heralds", "3000"]
    argv += ["--calibration", "lab", "--workers", "2", "-o", "s.h5", "-v"]
    # the points are submitted once the scheduler has the client; each runs tens of seconds
    r = signal_cli(argv, tmp_path, signum, "Receive client connection", delay=1.0)
    rc, elapsed, after = r.status, r.seconds, r.err_after
    assert rc == 128 + signum, after
    assert elapsed < 3.0, (elapsed, after)  # 0.4-0.5 s measured, 4.5 s before (Ctrl-C)
    assert "WARNING" not in after, after
    assert after.strip().splitlines()[-1] == "ionlink-sim: interrupted", after
    deadline = time.monotonic() + 5.0
    while _processes_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_in(tmp_path), "a worker of the stopped sweep is still running"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "s.h5"]  # no temporary file
    with h5py.File(tmp_path / "s.h5", "r") as f:  # the sweep file, readable: no point finished
        assert [s.decode() for s in f["sweep/points"]["status"]] == ["pending", "pending"]


def test_a_sweep_in_its_own_process_stopped_by_sigterm_stops_without_the_point(tmp_path):
    """``--workers 0``: the signal stops the point's run at its next check and then the sweep,
    the point unrecorded (it runs again on resume); it recorded the point as failed
    ("RemoteEntanglement failed: terminated") and went on, exit 1."""
    argv = ["sweep", "--heralds", "3000", "--calibration", "lab", "--workers", "0"]
    argv += ["-o", "s.h5", "-v"]
    r = signal_cli(argv, tmp_path, signal.SIGTERM, "RemoteEntanglement.run() starts")
    assert r.status == 143, r.err_after
    assert r.seconds < 3.0, (r.seconds, r.err_after)
    assert r.err_after.strip().splitlines()[-1] == "ionlink-sim: interrupted", r.err_after
    assert not list(tmp_path.glob("s/point_*/point.json")), "the stopped point was recorded"
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert [s.decode() for s in f["sweep/points"]["status"]] == ["pending"]


@pytest.mark.slow
def test_a_sweep_on_a_scheduler_stopped_by_a_signal_cancels_its_points(tmp_path):
    """``--scheduler``: SIGTERM cancels the sweep's unfinished points on the scheduler before the
    client closes, and the stop line says how many; the point running on the worker (this
    process: ``processes=False``) stops at its next termination check, so the worker is free
    again within seconds. Before, the client's close dropped the points from the scheduler, but
    the running one went on in the worker's thread to its end (tens of seconds here, hours for a
    long point), and the line said only "interrupted"."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        argv = ["sweep", "--set", "bsa.mode_overlap=0.9,1.0", "--heralds", "3000"]
        argv += ["--calibration", "lab", "--scheduler", address, "-v"]
        argv += ["-o", "s.h5"]  # (the worker, in this process, has another folder)
        r = signal_cli(argv, tmp_path, signal.SIGTERM, "points sent to the Dask scheduler", 2.5)
        assert r.status == 143, r.err_after
        assert r.err_after.strip().splitlines()[-1] == (
            "ionlink-sim: interrupted: 2 unfinished points cancelled on the Dask scheduler at "
            + address
        ), r.err_after
        (worker,) = cluster.workers.values()
        deadline = time.monotonic() + 10.0  # 0-4 s measured (a step that never checks ends)
        while (cluster.scheduler.tasks or worker.state.tasks) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not cluster.scheduler.tasks, "the scheduler still has the sweep's points"
        assert not worker.state.tasks, "the worker still runs the sweep's point"
    assert (tmp_path / "s" / "point_00000" / "results").is_dir()  # it had started
    assert not list(tmp_path.glob("s/point_*/point.json"))
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert [s.decode() for s in f["sweep/points"]["status"]] == ["pending", "pending"]
