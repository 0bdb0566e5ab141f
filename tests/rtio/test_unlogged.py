# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which channels of a repeated pass go unlogged (``sim.rtio.unlogged``): only where nothing will
read the repeats (no waveform file, every world past them, an input's PHY caught up on a channel
the skipping party calls quiet, no loopback, no sample request), and an input's PHY then holds
the sensitivity its next read would have set. The whole loop against a logged one:
tests/experiments/test_cpu_fast_forward.py, tests/sweep/test_bounded_memory.py."""

from types import SimpleNamespace

import pytest

from sim.rtio.capture import Period, Submission
from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.ttl import LevelView
from sim.rtio.phy.ttl_input import TTLInputPhy
from sim.rtio.unlogged import unlogged_channels

BEAM, DET = 2, 16


def _setup(processed_mu=10_000, quiet=(DET,), wires=None, det_events=((100, 2, 1), (160, 2, 0))):
    """An engine with a beam (a TTL output with a level view) and a detector (a TTL input) that
    have each logged one pass; the pass (beam pulse, detector gate) and a skipping party."""
    beam = ChannelState(BEAM, "beam", Kind.TTL_OUT)
    det = ChannelState(DET, "det", Kind.TTL_INOUT)
    eng = SimpleNamespace(
        recorder=None,
        channels={BEAM: beam, DET: det},
        worlds=[
            SimpleNamespace(processed_mu=processed_mu, wires={}),
            SimpleNamespace(processed_mu=1 << 62, wires=wires or {}),
        ],
        _unlogged_plans={},
    )
    det.phy = TTLInputPhy(eng, DET)
    beam.raw = [(50, 0, 1), (80, 0, 0)]
    det.raw = [tuple(e) for e in det_events]
    beam.level_view = LevelView(beam)
    beam.level_view.levels(0, 1000)  # (the world has read the beam)
    det.phy.ctrl_idx = len(det.raw)  # (and the detector's reads have taken its gates)
    det.phy.sens = 0
    evs = [(50, BEAM << 8, 1), (80, BEAM << 8, 0)]
    evs += [(t, DET << 8 | a, d) for t, a, d in det_events]
    events = tuple(Submission(t, t - 500, 0, target, d) for t, target, d in sorted(evs))
    period = Period(0, -500, 1000, 500, events)
    skipper = SimpleNamespace(quiet_inputs=lambda: list(quiet))
    return eng, period, skipper


def test_past_every_reader_neither_is_logged_and_the_gate_is_applied():
    eng, period, skipper = _setup()
    eng.channels[DET].phy.sens = 3  # (not what the pass leaves)
    assert sorted(unlogged_channels(eng, period, range(1000, 6000, 1000), skipper)) == [BEAM, DET]
    assert eng.channels[DET].phy.sens == 0  # the pass's last gate control: closed
    assert eng.channels[BEAM].level_view.level == 0


@pytest.mark.parametrize(
    "change, logged",
    [
        ({"processed_mu": 5080}, [BEAM]),  # the world stands at the last repeat's beam output
        ({"quiet": ()}, [DET]),  # the skipping party promises no quiet detector
        ({"wires": {DET: [[BEAM, 0, 0]]}}, [BEAM, DET]),  # a loopback reads them
        ({"det_events": ((100, 2, 1), (160, 3, 0))}, [DET]),  # a sample request: an event
    ],
)
def test_a_channel_someone_may_read_is_logged(change, logged):
    eng, period, skipper = _setup(**change)
    out = unlogged_channels(eng, period, range(1000, 6000, 1000), skipper)
    assert sorted(set(eng.channels) - set(out)) == logged


def test_nothing_unlogged_with_a_waveform_file_or_an_input_behind():
    eng, period, skipper = _setup()
    eng.recorder = object()
    assert unlogged_channels(eng, period, range(1000, 3000, 1000), skipper) == []
    eng, period, skipper = _setup()
    eng.channels[DET].phy.ctrl_idx -= 1  # a gate control not yet consumed
    eng.channels[DET].phy.sens = 1
    assert unlogged_channels(eng, period, range(1000, 3000, 1000), skipper) == [BEAM]
    assert eng.channels[DET].phy.sens == 1
    eng, period, skipper = _setup()
    eng.channels[BEAM].level_view = LevelView(eng.channels[BEAM])  # a view behind: walked first
    assert BEAM in unlogged_channels(eng, period, range(1000, 3000, 1000), skipper)
    assert eng.channels[BEAM].level_view.idx == 2
