# SPDX-License-Identifier: LGPL-3.0-or-later
"""The views a physics world reads its beams through, against the plain per-channel reads:
``ttl_levels_many`` (which keeps the channel states of the list it was last asked for) gives
what ``ttl_levels`` of each channel gives, and ``OutputWatch.next_from`` (which skips a channel
by its latest coarse timestamp) the earliest output at or after a time, whatever the order the
outputs were submitted in, while channels appear, go out of order or get new outputs."""

import random

import pytest

from sim.rtio.channels import Kind
from sim.rtio.engine import RTIOEngine
from sim.rtio.retire import retire_history
from sim.rtio.views import NEVER

CHANNELS = [3, 0, 7, 5]  # 7 gets no output until late, 5 never


def _submit(eng: RTIOEngine, rnd: random.Random, ch: int, t: int, used: set) -> None:
    if (ch, t >> 3) in used:  # (one output per coarse cycle and channel: no collision)
        return
    used.add((ch, t >> 3))
    eng.counter = 0  # (plenty of slack)
    eng.now = t
    width = rnd.randint(8, 40)
    if rnd.random() < 0.3 and (ch, (t + width) >> 3) not in used:  # a pulse (its fast path)
        used.add((ch, (t + width) >> 3))
        eng.rtio_pulse(ch << 8, width, seconds=False)
    else:
        eng.rtio_output(ch << 8, rnd.randint(0, 1))


def _brute_next(eng: RTIOEngine, t_from: int) -> int:
    ts = [e[0] for ch in CHANNELS if ch in eng.channels for e in eng.channels[ch].raw]
    return min((t for t in ts if t >= t_from), default=NEVER)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("every_channel", [False, True])
def test_levels_and_next_output_are_the_plain_reads(seed, every_channel):
    """``every_channel``: all the channels made at the start (the views then keep the list's
    channel states), asked at times that mostly grow (sometimes earlier), with pulses and
    history retired in between; otherwise channel 7 appears late and 5 never."""
    rnd = random.Random(seed)
    eng = RTIOEngine()
    eng.counter = 0
    for ch in CHANNELS if every_channel else CHANNELS[:2]:
        eng.channel(ch).set_kind(Kind.TTL_OUT)
    watch = eng.output_watch(CHANNELS)
    t = 10_000
    asked = 5_000
    used: set = set()
    for step in range(400):
        new = []
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            ch = rnd.choice(CHANNELS[:3] if step > 150 else CHANNELS[:2])
            # in order, and at the end sometimes before the channel's latest (out of order)
            back = rnd.randint(9, 300) if step > 320 and rnd.random() < 0.3 else 0
            ts = t + rnd.randint(0, 400) - back
            _submit(eng, rnd, ch, ts, used)
            new.append(ts)
        t += rnd.randint(50, 300)
        t_to = min(asked + rnd.randint(0, 600), t + 100)
        if t_to > asked:  # windows that hold outputs not yet turned into levels
            for _ in range(2 if rnd.random() < 0.2 else 1):  # (asked again: nothing new)
                many = eng.ttl_levels_many(CHANNELS, asked, t_to)
                plain = [
                    (t_mu, i, lvl)
                    for i, ch in enumerate(CHANNELS)
                    for t_mu, lvl in eng.ttl_levels(ch, asked, t_to)
                ]
                assert many == plain
            asked = t_to
        probes = [asked] + [ts - d for ts in new for d in (0, 1, 5, 7, 8)]
        for probe in probes if rnd.random() < 0.3 else sorted(probes):
            assert watch.next_from(probe) == _brute_next(eng, probe)
        if step % 97 == 96:  # history long past is retired
            eng.counter = asked
            retire_history(eng, threshold=0)
            eng.counter = 0
    assert any(eng.channels[ch].flagged for ch in CHANNELS if ch in eng.channels)


def test_an_output_out_of_order_after_a_scan_is_seen():
    """A channel with nothing at or after a watch's last time, then given an output in the
    coarse cycle of its latest, after that time (out of order): the watch finds it."""
    eng = RTIOEngine()
    eng.counter = 0
    for ch in CHANNELS:
        eng.channel(ch).set_kind(Kind.TTL_OUT)
    watch = eng.output_watch(CHANNELS)
    for ch, t in [*((ch, 1000 + 100 * k) for k, ch in enumerate(CHANNELS)), (3, 9000), (3, 9004)]:
        if t == 9004:  # (the coarse cycle of 9000: out of order)
            assert watch.next_from(9001) == NEVER
        eng.counter = 0  # (plenty of slack)
        eng.now = t
        eng.rtio_output(ch << 8, 1)
    assert eng.channels[3].flagged
    assert watch.next_from(9002) == 9004 == _brute_next(eng, 9002)


def test_a_pulse_after_a_scan_is_seen():
    """A pulse (the SED's fast path, both events in one call) to a channel quiet at the last
    scans: the next scans find it."""
    eng = RTIOEngine()
    for k, ch in enumerate(CHANNELS):
        eng.channel(ch).set_kind(Kind.TTL_OUT)
        eng.counter = 0
        eng.now = 1000 + 100 * k
        eng.rtio_output(ch << 8, 0)
    watch = eng.output_watch(CHANNELS)
    assert eng.ttl_levels_many(CHANNELS, 0, 2000) == []
    assert watch.next_from(2000) == NEVER
    eng.counter = 0
    eng.now = 3000
    eng.rtio_pulse(7 << 8, 80, seconds=False)
    assert eng.channels[7].log[-2:] == [3000, 3080]  # (the fast path: the pulse kept compact)
    assert watch.next_from(2000) == 3000
    assert eng.ttl_levels_many(CHANNELS, 2000, 4000) == [(3000, 2, 1), (3080, 2, 0)]
