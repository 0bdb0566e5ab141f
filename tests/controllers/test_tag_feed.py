# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's time-tag feed (``--tag-feed``, :mod:`sim.tag_feed`) over loopback: a heralding
loop's clicks and excitation triggers reach the tagger in blocks while the run goes on, in time
order; a feed nobody listens to costs the run nothing but one warning."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import zmq

from analysis.time_tags import arrival_state, arrival_update
from drivers.controllers.tag_stream import TagBatch, decode
from tests.controllers.conftest import ROOT, free_port


@dataclass
class _Received:
    """Batches a PULL socket got, each with the wall time it arrived."""

    batches: list[tuple[float, TagBatch]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _pull(port: int, got: _Received) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(f"tcp://127.0.0.1:{port}")
    while not got.stop.is_set():
        if sock.poll(50):
            got.batches.append((time.monotonic(), decode(sock.recv_multipart())))
    sock.close(0)
    ctx.term()


def _heralding_loop(tmp_path, tag_feed: str | None) -> tuple[dict, float, float]:
    """Startup, then 60 heralds of ``remote_entanglement.py`` (oxford2020, seed 1) with
    ``tag_feed``: the loop's datasets and the wall times it started and ended."""
    from tests.experiments.simhelpers import REPO, simulation

    with simulation(tmp_path, "oxford2020", seed=1, tag_feed=tag_feed) as sim:
        time.sleep(0.2)
        t_start = time.monotonic()
        r = sim.run(REPO / "remote_entanglement.py", None, {"heralds_per_setting": 60})
        t_end = time.monotonic()
        assert r.exit_code == 0, r.error_message
    return r.datasets, t_start, t_end


def test_a_heralding_loop_is_fed_in_blocks_while_it_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.tag_feed.BLOCK", 1000)
    # blocks only, no wall-time batches
    monkeypatch.setattr("sim.tag_feed.INTERVAL_S", 1e9, raising=False)
    port = free_port()
    got = _Received()
    thread = threading.Thread(target=_pull, args=(port, got), daemon=True)
    thread.start()
    try:
        fed, t_start, t_end = _heralding_loop(tmp_path / "fed", f"tcp://127.0.0.1:{port}")
        time.sleep(0.5)
    finally:
        got.stop.set()
        thread.join(5)
    during = [b for t, b in got.batches if t_start < t < t_end]
    # (the run's last batch, sent as it settles, arrives before ``run`` returns too)
    assert len(during) >= 5, f"{len(during)} batches while the loop ran (of {len(got.batches)})"
    assert all(len(b) for b in during)
    seqs = [b.seq for _, b in got.batches]
    assert seqs == list(range(len(seqs)))
    times = np.concatenate([b.times_ps for _, b in got.batches])
    assert np.all(np.diff(times) >= 0), "the batches are in time order"
    chans = np.concatenate([b.channels for _, b in got.batches])
    assert set(np.unique(chans)) == {1, 2, 3, 4, 5, 6, 7}
    assert got.batches[-1][1].channel_names[7] == "node_a.excite"
    # input 7, the excitation trigger of every entangler cycle: each detector click of a cycle
    # follows one by less than the cycle, at the photon's delay
    arrival = arrival_update(arrival_state((7,), (1, 2, 3, 4), 1000, 2_000_000), times, chans)
    assert arrival.counts.sum() > 0.9 * arrival.n_click
    assert np.diff(times[chans == 7]).min() > 1_000_000  # one a cycle (> 1 us)
    plain, _, _ = _heralding_loop(tmp_path / "plain", None)
    for key in fed:  # the feed changes no dataset
        if "wall" not in key and "provenance" not in key:
            np.testing.assert_array_equal(np.asarray(fed[key]), np.asarray(plain[key]), key)


def test_a_feed_nobody_listens_to_warns_once_and_the_run_exits_at_once(tmp_path):
    port = free_port()  # nobody binds it
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "sim", "run", str(ROOT / "repository" / "dark_counts.py")]
    cmd += ["gates=3", "gate_length=0.05", "--lab", "oxford2020", "--seed", "7", "-q"]
    cmd += ["--device-db", str(ROOT / "device_db.py"), "--results", str(tmp_path / "results")]
    cmd += ["--dataset-db", str(tmp_path / "datasets.mdb")]
    t0 = time.monotonic()
    base = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    base_s = time.monotonic() - t0
    assert base.returncode == 0, base.stderr
    t0 = time.monotonic()
    fed = subprocess.run(
        [*cmd, "--tag-feed", f"tcp://127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,  # (its run ids)
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - t0
    assert fed.returncode == 0, fed.stderr
    lines = [ln for ln in fed.stderr.splitlines() if "not delivered" in ln]
    assert len(lines) == 1, fed.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "no tagger listening" in lines[0]
    assert "not delivered" not in base.stderr
    assert elapsed < base_s + 5, f"{elapsed:.1f} s with the feed, {base_s:.1f} s without"
