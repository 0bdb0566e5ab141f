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
from sim.rtio.views import NEVER

CHANNELS = [3, 0, 7, 5]  # 7 gets no output until late, 5 never


def _submit(eng: RTIOEngine, rnd: random.Random, ch: int, t: int, used: set) -> None:
    if (ch, t >> 3) in used:  # (one output per coarse cycle and channel: no collision)
        return
    used.add((ch, t >> 3))
    eng.counter = 0  # (plenty of slack)
    eng.now = t
    eng.rtio_output(ch << 8, rnd.randint(0, 1))


def _brute_next(eng: RTIOEngine, t_from: int) -> int:
    ts = [e[0] for ch in CHANNELS if ch in eng.channels for e in eng.channels[ch].raw]
    return min((t for t in ts if t >= t_from), default=NEVER)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_levels_and_next_output_are_the_plain_reads(seed):
    rnd = random.Random(seed)
    eng = RTIOEngine()
    eng.counter = 0
    eng.channel(3).set_kind(Kind.TTL_OUT)
    eng.channel(0).set_kind(Kind.TTL_OUT)
    watch = eng.output_watch(CHANNELS)
    t = 10_000
    asked = 5_000
    used: set = set()
    for step in range(400):
        new = []
        for _ in range(rnd.randint(0, 3)):
            ch = rnd.choice(CHANNELS[:3] if step > 150 else CHANNELS[:2])
            # in order, and at the end sometimes before the channel's latest (out of order)
            back = rnd.randint(9, 300) if step > 320 and rnd.random() < 0.3 else 0
            ts = t + rnd.randint(0, 400) - back
            _submit(eng, rnd, ch, ts, used)
            new.append(ts)
        t += rnd.randint(50, 300)
        t_to = min(asked + rnd.randint(0, 600), t + 100)
        if t_to > asked:  # windows that hold outputs not yet turned into levels
            many = eng.ttl_levels_many(CHANNELS, asked, t_to)
            plain = [
                (t_mu, i, lvl)
                for i, ch in enumerate(CHANNELS)
                for t_mu, lvl in eng.ttl_levels(ch, asked, t_to)
            ]
            assert many == plain
            asked = t_to
        for probe in [asked] + [ts - d for ts in new for d in (0, 1, 5, 7, 8)]:
            assert watch.next_from(probe) == _brute_next(eng, probe)
    assert any(eng.channels[ch].flagged for ch in CHANNELS if ch in eng.channels)
