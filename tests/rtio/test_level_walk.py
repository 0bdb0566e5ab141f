# SPDX-License-Identifier: LGPL-3.0-or-later
"""TTL level tracking on arrays (``walk_bulk``, used for many submissions at once, e.g. a waveform
file's whole run) against the submission-by-submission walk (the reference): the same
transitions and final state for random logs (out-of-order times, enable writes, gate and sample
addresses, truthy data of several types, a stop time)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.rtio.phy.ttl import walk_bulk, walk_each

_EVENT = st.tuples(
    st.integers(0, 60),
    st.integers(0, 3),
    st.sampled_from([0, 1, 2, True, False, 0.0, 0.5]),
)


@settings(max_examples=200, deadline=None)
@given(
    res=st.lists(_EVENT, max_size=40),
    start=st.integers(0, 5),
    t_to=st.one_of(st.none(), st.integers(0, 60)),
    state=st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)),
    inout=st.booleans(),
)
def test_bulk_walk_is_the_walk(res, start, t_to, state, inout):
    i = min(start, len(res))
    out = []
    for walk in (walk_each, walk_bulk):
        t: list[int] = [-1]
        lv: list[int] = [0]
        end = walk(res, i, len(res), t_to, *state, inout, t, lv)
        out.append((end, t, lv, [type(x) for x in end + tuple(t) + tuple(lv)]))
    assert out[0] == out[1]
