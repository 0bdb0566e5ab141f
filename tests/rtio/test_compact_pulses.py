# SPDX-License-Identifier: LGPL-3.0-or-later
"""Compact pulses in a channel's log (``ChannelState.log``, ``pend``): what its readers see is
what a log of tuples gives, read at any point: ``raw``, ``last_event``, ``drop_after``, the
level view's transitions (walked over the compact pulses or over the tuples) and its final
state."""

from __future__ import annotations

import random

from artiq.language.core import delay
from artiq.language.units import us

from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.ttl import LevelView


def _log_pulse(st: ChannelState, ts: int, ts2: int) -> None:
    """A pulse logged as the drivers' fast path logs it."""
    if st.pend is None:
        st.pend = len(st.log)
    st.log.append(ts)
    st.log.append(ts2)


def _random_logs(rnd: random.Random, kind: Kind) -> tuple[ChannelState, ChannelState, list]:
    """A channel logged with compact pulses and tuples at random, the same as tuples only, and
    the read points (the log's length then, and a time up to which the levels are read)."""
    st, ref = ChannelState(0, kind=kind), ChannelState(0, kind=kind)
    t = rnd.randint(0, 50)
    reads = []
    m = rnd.randint(1, 60)
    # half of them a pulse train after tuples (what the level view walks compactly)
    train = rnd.randint(0, m) if rnd.random() < 0.5 else None
    for k in range(m):
        if k >= train if train is not None else rnd.random() < 0.6:
            t2 = t + rnd.randint(1, 40)
            _log_pulse(st, t, t2)
            ref.raw.extend([(t, 0, 1), (t2, 0, 0)])
            t = t2
        else:
            e = (t, rnd.choice((0, 0, 1, 2)), rnd.getrandbits(1))
            st.log.append(e)
            ref.raw.append(e)
        t += rnd.randint(1, 40)
        if rnd.random() < 0.2:
            reads.append((len(ref.raw), t + rnd.randint(-60, 5)))
    return st, ref, reads


def test_raw_and_last_event_as_tuples() -> None:
    """``raw`` turns the compact pulses into tuples in place (the same list), at whatever point
    it is read; ``log``'s length and ``last_event`` need no tuples."""
    rnd = random.Random(11)
    for _ in range(400):
        st = ChannelState(0, kind=Kind.TTL_OUT)
        ref: list[tuple[int, int, int]] = []
        t = 0
        for _ in range(rnd.randint(1, 40)):
            if rnd.random() < 0.6:
                _log_pulse(st, t, t + 8)
                ref += [(t, 0, 1), (t + 8, 0, 0)]
            else:
                st.log.append((t, 1, 1))
                ref.append((t, 1, 1))
            t += 16
            assert len(st.log) == len(ref) and st.last_event() == ref[-1]
            if rnd.random() < 0.3:
                log = st.log
                assert st.raw == ref and st.raw is log and st.pend is None
        assert st.raw == ref


def test_drop_after_as_tuples() -> None:
    rnd = random.Random(12)
    for _ in range(300):
        st, ref, _ = _random_logs(rnd, Kind.TTL_OUT)
        cc = rnd.randint(-1, (ref.raw[-1][0] >> 3) + 1)
        st.drop_after(cc)
        ref.drop_after(cc)
        assert st.raw == ref.raw and st.max_c == ref.max_c


def test_level_view_over_compact_pulses() -> None:
    """Levels read step by step, then the final state, equal those of the tuples, for output
    and input-output channels (whose output enable may be off)."""
    rnd = random.Random(13)
    walked = 0
    for kind in (Kind.TTL_OUT, Kind.TTL_INOUT) * 300:
        st, ref, reads = _random_logs(rnd, kind)
        view, want = LevelView(st), LevelView(ref)
        if rnd.random() < 0.5:
            view.oe = want.oe = 1
        for n, t_to in reads:
            compact = st.pend is not None and view.idx <= st.pend
            got = view.levels(-1, t_to)
            walked += compact and st.pend is not None
            assert got == want.levels(-1, t_to)
            assert (view.idx, view.o, view.oe, view.level) == (
                want.idx,
                want.o,
                want.oe,
                want.level,
            )
        final = view.final_by_last()
        expected = want.final(ref.resolved())
        if final is not None:
            assert final == expected
        assert view.final(st.resolved()) == expected
        end = ref.raw[-1][0] + 1
        assert view.levels(-1, end) == want.levels(-1, end)
    assert walked > 100  # (the compact walk was taken, the pulses left compact)


def test_pulse_train_logged_compactly(env) -> None:
    """The drivers' pulse logs a pulse train compactly; its levels and log read as before."""
    ttl, eng = env.get("ttl_out"), env.engine

    def train() -> None:
        env.core.reset()
        for _ in range(50):
            ttl.pulse(1 * us)
            delay(1 * us)

    env.run(train)
    st = eng.channels[ttl.channel]
    assert st.pend is not None and not isinstance(st.log[-1], tuple)
    levels = eng.ttl_levels(ttl.channel, 0, eng.now + 1)
    assert st.pend is not None  # (the levels walked the compact pulses)
    raw = st.raw
    assert st.pend is None and len(raw) == 100
    assert [e[1:] for e in raw] == [(0, 1), (0, 0)] * 50
    assert all(b[0] - a[0] == 1000 for a, b in zip(raw, raw[1:]))
    assert levels == [(ts, data) for ts, _, data in raw]
