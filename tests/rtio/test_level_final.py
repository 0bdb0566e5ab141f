# SPDX-License-Identifier: LGPL-3.0-or-later
"""``LevelView.final`` (the TTL state the hardware keeps at the end of an experiment) equals what
turning every submission into levels leaves, for any log and any point the view had reached."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.ttl import LevelView

_events = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(_events, st.sampled_from([Kind.TTL_OUT, Kind.TTL_INOUT]), st.integers(0, 30))
def test_final_equals_the_walk(events, kind, walked):
    state = ChannelState(0, "ttl", kind)
    state.raw = [(8 * (i + 1), addr, data) for i, (addr, data) in enumerate(events)]
    view = LevelView(state)
    view.levels(0, 8 * min(walked, len(events)) + 1)  # part of the log already walked
    final = view.final(state.resolved())
    view.levels(0, 1 << 40)
    assert final == (view.o, view.oe, view.level)
