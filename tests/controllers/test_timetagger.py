# SPDX-License-Identifier: LGPL-3.0-or-later
"""The time tagger controller over its ports: RPC (ping, inputs, levels, dead time), the feed a
simulator pushes pulses to, the PUB stream a subscriber receives in order, HDF5 recording, and a
feed that sends garbage. Then the simulator feeding it from its physics world."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from comms import pc_rpc
from drivers.controllers.tag_file import read_tags
from drivers.controllers.tag_stream import TagBatch, TagStreamError, decode, encode
from drivers.controllers.timetagger import InputConfig, TimeTagger, apply_inputs, endpoints


def _sub(port: int) -> tuple[zmq.Context, zmq.Socket]:
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.IPV6, 1)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(f"tcp://[::1]:{port}")
    return ctx, s


def _push(port: int) -> tuple[zmq.Context, zmq.Socket]:
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 1000)
    s.connect(f"tcp://127.0.0.1:{port}")
    return ctx, s


def _receive(sock: zmq.Socket, n_batches: int, timeout_s: float = 10.0) -> list[TagBatch]:
    out = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n_batches and time.monotonic() < deadline:
        if sock.poll(100):
            out.append(decode(sock.recv_multipart()))
    return out


def test_stream_in_order_config_recording_and_garbage(timetagger_ctl, tmp_path):
    proc, port = timetagger_ctl
    _, stream, feed = proc.ports
    c = pc_rpc.Client("::1", port, timeout=5)
    assert c.ping() is True
    assert c.get_inputs()[1] == "bsa_det0"
    assert c.set_dead_time(2, 10_000) == 10_000
    c.set_trigger_level(3, 2.4)  # above the simulated pulses: input 3 gives no tags
    with pytest.raises(Exception, match="outside"):
        c.set_trigger_level(1, 7.0)
    with pytest.raises(Exception, match="no input 9"):
        c.get_dead_time(9)
    path = c.start_recording(str(tmp_path / "tags.h5"))
    with pytest.raises(Exception, match="already recording"):
        c.start_recording(str(tmp_path / "other.h5"))
    sctx, sub = _sub(stream)
    pctx, push = _push(feed)
    time.sleep(0.3)  # the subscription reaches the publisher (ZeroMQ's slow joiner)
    rng = np.random.default_rng(1)
    sent_t, sent_c = [], []
    t0 = 0
    for k in range(5):
        t = np.sort(t0 + rng.integers(0, 10**9, 400))
        ch = rng.integers(1, 5, 400).astype(np.int32)
        t0 = int(t[-1])
        sent_t.append(t)
        sent_c.append(ch)
        push.send_multipart(encode(TagBatch(k, t, ch)))
        if k == 2:
            push.send_multipart([b"garbage"])
    got = _receive(sub, 5)
    assert [b.seq for b in got] == [0, 1, 2, 3, 4]
    times = np.concatenate([b.times_ps for b in got])
    chans = np.concatenate([b.channels for b in got])
    assert np.all(np.diff(times) >= 0), "tags arrive in order"
    assert not np.any(chans == 3)
    expected = apply_inputs(
        np.concatenate(sent_t),
        np.concatenate(sent_c),
        {
            1: InputConfig(),
            2: InputConfig(dead_time_ps=10_000),
            3: InputConfig(level_v=2.4),
            4: InputConfig(),
        },
        2.0,
    )
    np.testing.assert_array_equal(times, expected[0])
    np.testing.assert_array_equal(chans, expected[1])
    assert c.get_status()["rejected_messages"] == 1
    assert sum(c.get_counts().values()) == len(times)
    assert c.stop_recording() == len(times)
    ft, fc = read_tags(path)
    np.testing.assert_array_equal(ft, times)
    np.testing.assert_array_equal(fc, chans)
    c.terminate()
    assert proc.wait(timeout=10) == 0
    for ctx, s in ((sctx, sub), (pctx, push)):
        s.close(0)
        ctx.term()


def test_dead_time_is_per_input_and_spans_batches():
    cfg = {1: InputConfig(dead_time_ps=100), 2: InputConfig(dead_time_ps=0)}
    t = np.array([0, 50, 100, 120, 260], dtype=np.int64)
    c = np.array([1, 1, 1, 2, 1], dtype=np.int32)
    kt, kc = apply_inputs(t, c, cfg, 2.0)
    assert kt.tolist() == [0, 100, 120, 260] and kc.tolist() == [1, 1, 2, 1]
    kt, _ = apply_inputs(np.array([300, 360], np.int64), np.array([1, 1], np.int32), cfg, 2.0)
    assert kt.tolist() == [360]  # 300 is within 100 ps of the last tag, 260, of the batch before


def test_decode_rejects_what_is_not_a_batch():
    good = encode(TagBatch(3, np.array([1, 2], np.int64), np.array([1, 2], np.int32)))
    assert decode(good).seq == 3
    for frames, match in (
        ([b"{}"], "3 frames"),
        ([b"not json", good[1], good[2]], "not JSON"),
        ([good[0], good[1][:-1], good[2]], "do not hold"),
        ([good[0], good[1][::-1], good[2]], "not in order"),
    ):
        with pytest.raises(TagStreamError, match=match):
            decode(frames)


def test_simulation_feeds_the_tagger_from_its_physics(tmp_path):
    """ionlink-sim's feed: the clicks of the simulated detectors and PMTs reach a subscriber in
    order; the kernel's own counts of a gated detector are among them; the feed changes no
    dataset."""
    from sim.runner import Simulation
    from tests.controllers.conftest import ROOT, free_port

    stream, feed = free_port(), free_port()
    tagger = TimeTagger(endpoints(["127.0.0.1"], stream), endpoints(["127.0.0.1"], feed))
    sctx, sub = _sub_v4(stream)
    time.sleep(0.3)
    datasets = []
    try:
        for tag_feed in (f"tcp://127.0.0.1:{feed}", None):
            with Simulation(
                ROOT / "device_db.py",
                seed=7,
                lab="oxford2020",
                results_dir=tmp_path / "results",
                dataset_db=False,
                tag_feed=tag_feed,
            ) as sim:
                r = sim.run(
                    ROOT / "repository" / "dark_counts.py",
                    arguments={"gates": 2, "gate_length": 0.02},
                )
            datasets.append(r.datasets)
        got = _receive(sub, 1, 10)
    finally:
        tagger.close()
        sub.close(0)
        sctx.term()
    assert got, "no tags from the simulation"
    times = np.concatenate([b.times_ps for b in got])
    chans = np.concatenate([b.channels for b in got])
    assert np.all(np.diff(times) >= 0)
    assert got[0].channel_names[1] == "bsa_det0" and got[0].channel_names[6] == "node_b.pmt"
    counts = datasets[0]["dark.counts"] + datasets[0]["background.counts"]
    assert counts.sum() > 0
    for i in range(4):
        assert np.count_nonzero(chans == i + 1) >= counts[i]
    assert np.count_nonzero(chans >= 5) == 0  # the PMTs see nothing: no detection beam
    a, b = datasets
    for key in a:
        if "wall" not in key and "provenance" not in key:
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


def _sub_v4(port: int) -> tuple[zmq.Context, zmq.Socket]:
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(f"tcp://127.0.0.1:{port}")
    return ctx, s
