# SPDX-License-Identifier: LGPL-3.0-or-later
"""Folding time tags as they arrive: the result does not depend on how the stream is cut into
batches; g² of independent streams is 1; the HOM dip of a synthetic pulsed source is found with its
interval; the live consumer counts gaps and garbage and folds the rest."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from analysis.tag_consumer import TagConsumer, summary
from analysis.time_tags import (
    arrival_state,
    arrival_update,
    correlation_state,
    correlation_update,
    cross_differences,
    g2,
    hom_dip,
)
from drivers.controllers.tag_stream import TagBatch, encode


def _stream(rng, n=4000, span=10**10):
    t = np.sort(rng.integers(0, span, n)).astype(np.int64)
    c = rng.integers(1, 5, n).astype(np.int32)
    return t, c


def test_batches_fold_to_the_whole(rng):
    t, c = _stream(rng)
    whole = correlation_update(correlation_state((1, 2), (3, 4), 10**5, 10**7), t, c)
    a, b = t[np.isin(c, (1, 2))], t[np.isin(c, (3, 4))]
    brute = (b[None, :] - a[:, None]).ravel()
    brute = brute[np.abs(brute) <= 10**7]
    assert sorted(cross_differences(a, b, 10**7).tolist()) == sorted(brute.tolist())
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, len(t)), 12, replace=False))
        st = correlation_state((1, 2), (3, 4), 10**5, 10**7)
        ar = arrival_state((1,), (3, 4), 10**5, 10**7)
        ar_whole = arrival_update(arrival_state((1,), (3, 4), 10**5, 10**7), t, c)
        for tt, cc in zip(np.split(t, cuts), np.split(c, cuts)):
            st = correlation_update(st, tt, cc)
            ar = arrival_update(ar, tt, cc)
        assert np.array_equal(st.counts, whole.counts)
        assert np.array_equal(ar.counts, ar_whole.counts)
        assert (st.n_a, st.n_b) == (whole.n_a, whole.n_b)


def test_g2_of_independent_streams_is_one(rng):
    """Two independent Poisson streams: mean g² over 200 bins within 4σ of 1 (σ from the total
    coincidences, Poisson)."""
    t, c = _stream(rng, n=40000, span=10**11)
    st = correlation_update(correlation_state((1, 2), (3, 4), 10**6, 10**8), t, c)
    total = st.counts.sum()
    assert total > 1000
    assert abs(np.nanmean(g2(st)) - 1.0) < 4 / np.sqrt(total)


def test_hom_dip_of_a_pulsed_source(rng):
    """Pulses every 1 µs; per pulse each port clicks with probability 0.05, independently except
    that coincidences within one pulse are suppressed by V = 0.7 (kept with probability 0.3):
    the estimate's 95 % interval holds 0.7."""
    period = 10**6
    n = 200000
    base = np.arange(n, dtype=np.int64) * period
    a = rng.random(n) < 0.05
    b = rng.random(n) < 0.05
    both = a & b
    b[both] = rng.random(both.sum()) < 0.3
    t = np.concatenate([base[a] + rng.integers(0, 1000, a.sum()), base[b] + 500])
    c = np.concatenate([np.full(a.sum(), 1), np.full(b.sum(), 3)]).astype(np.int32)
    order = np.argsort(t, kind="stable")
    st = correlation_update(correlation_state((1, 2), (3, 4), 1000, 3 * period), t[order], c[order])
    v = hom_dip(st, period, 5000)
    assert v.lo <= 0.7 <= v.hi and v.hi - v.lo < 0.2
    with pytest.raises(ValueError, match="outside the correlation window"):
        hom_dip(st, 4 * period, 5000)


def test_consumer_counts_gaps_and_garbage(rng):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    consumer = TagConsumer(f"tcp://127.0.0.1:{port}", bin_ps=10**5, window_ps=10**7)
    time.sleep(0.3)
    t, c = _stream(rng)
    parts = list(zip(np.split(t, 4), np.split(c, 4)))
    for seq, (tt, cc) in enumerate(parts):
        if seq == 2:
            pub.send_multipart([b"not a batch"])
            continue  # batch 2 never sent: a gap
        pub.send_multipart(encode(TagBatch(seq, tt, cc, lost=1)))
    try:
        result = consumer.run(5.0, max_tags=3 * len(t) // 4)
    finally:
        consumer.close()
        pub.close(0)
        ctx.term()
    assert (result.batches, result.missed_batches, result.rejected) == (3, 1, 1)
    assert result.lost_tags == 3 and result.in_order and not result.partial
    expected = correlation_state((1, 2), (3, 4), 10**5, 10**7)
    for i in (0, 1, 3):
        expected = correlation_update(expected, *parts[i])
    assert np.array_equal(result.correlation.counts, expected.counts)
    s = summary(result, None, 10**5)
    assert s["tags"] == 3 * len(t) // 4 and s["missed_batches"] == 1


def test_tags_command_says_when_nothing_arrived(capsys):
    from analysis.cli import main

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)  # a stream that publishes nothing
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        code = main(["tags", f"tcp://127.0.0.1:{port}", "--duration", "0.3"])
    finally:
        pub.close(0)
        ctx.term()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and f"no tags from tcp://127.0.0.1:{port} in 0.3 s" in err[0]


def _publish_while(main_args: list[str], t: np.ndarray, c: np.ndarray) -> int:
    """``ionlink-analyze tags`` on a stream that publishes ``(t, c)`` a few times meanwhile."""
    import threading

    from analysis.cli import main

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def publish() -> None:
        seq = 0
        time.sleep(0.3)
        while not done.is_set():
            shift = seq * (int(t[-1]) + 1)
            pub.send_multipart(encode(TagBatch(seq, t + shift, c)))
            seq += 1
            time.sleep(0.1)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        return main(["tags", f"tcp://127.0.0.1:{port}", "--duration", "1", *main_args])
    finally:
        done.set()
        thread.join(5)
        pub.close(0)
        ctx.term()


def test_tags_command_notes_an_arrival_histogram_without_sync(capsys):
    period = 1_000_000
    sync = np.arange(0, 100 * period, period, dtype=np.int64)
    clicks = sync[::3] + 300_000
    t = np.concatenate([sync, clicks])
    c = np.concatenate([np.full(len(sync), 7), np.full(len(clicks), 1)]).astype(np.int32)
    order = np.argsort(t, kind="stable")
    t, c = t[order], c[order]
    assert _publish_while(["--json"], t, c) == 0  # the default start: input 7, the sync
    out = capsys.readouterr()
    assert "note" not in out.err
    assert '"arrival_counts": 0' not in out.out and '"partial": false' in out.out
    assert _publish_while(["--start", "5"], t, c) == 0  # no tags on input 5
    err = capsys.readouterr().err
    assert "note: 0 of" in err and "(inputs 5)" in err


def test_tags_command_says_when_the_stream_is_lost(rng, capsys):
    """A tagger whose stream ends mid-capture (its PUB socket closed, as when it stops): the
    consumer stops at once, says when on one line, prints what arrived marked partial, exits 3
    (before: it waited out ``--duration`` and printed a complete-looking summary, exit 0)."""
    import json
    import threading

    from analysis.cli import main
    from analysis.tag_consumer import EXIT_PARTIAL

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    t, c = _stream(rng)

    def publish_then_stop() -> None:
        time.sleep(0.5)
        for seq, (tt, cc) in enumerate(zip(np.split(t, 4), np.split(c, 4))):
            pub.send_multipart(encode(TagBatch(seq, tt, cc)))
            time.sleep(0.05)
        time.sleep(0.3)
        pub.close(0)

    thread = threading.Thread(target=publish_then_stop, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        code = main(
            ["tags", f"tcp://127.0.0.1:{port}", "--duration", "30", "--json", "--start", "1,2,3,4"]
        )
    finally:
        thread.join(5)
        pub.close(0)
        ctx.term()
    seconds = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL == 3
    assert seconds < 5
    s = json.loads(out)
    assert s["partial"] is True and s["tags"] == len(t) and s["batches"] == 4
    assert 0.5 < s["stream_lost_at_s"] < 5
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"ionlink-analyze: tags: the stream from tcp://127.0.0.1:{port} was lost at t = "
    )
    assert "of the 30 s capture" in lines[0] and "partial" in lines[0]
