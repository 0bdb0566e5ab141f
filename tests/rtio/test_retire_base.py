# SPDX-License-Identifier: LGPL-3.0-or-later
"""Retiring counts what was logged since the last retiring kept (``sim.rtio.retire``): history
within ``KEEP_MU`` that is larger than the threshold is not walked again at every check, and the
logs stay bounded. (That retiring changes no simulated number:
tests/sweep/test_bounded_memory.py.)"""

from types import SimpleNamespace

from sim.rtio.channels import ChannelState, Kind
from sim.rtio.retire import KEEP_MU, retire_history


def _engine(counter):
    st = ChannelState(1, "beam", Kind.TTL_OUT)
    return SimpleNamespace(
        recorder=None,
        channels={1: st},
        worlds=[],
        dds={},
        counter=counter,
        outputs_before=0,
        retire_base=0,
    ), st


def _log(st, t_from, n, step=5000):
    st.raw.extend((t, 0, k & 1) for k, t in enumerate(range(t_from, t_from + n * step, step)))


def test_history_kept_is_not_walked_again_until_more_is_logged():
    eng, st = _engine(counter=2 * KEEP_MU)
    _log(st, 0, 3000)  # 3000 submissions, 1000 of them within KEEP_MU of the counter
    assert retire_history(eng, threshold=2000) == 2000
    assert len(st.raw) == 1000
    _log(st, 15_000_000, 1500)  # 2500 logged: not 2000 more than the 1000 kept
    eng.counter = 4 * KEEP_MU  # (everything would go now)
    assert retire_history(eng, threshold=2000) == 0
    assert len(st.raw) == 2500
    _log(st, 22_500_000, 600)  # 3100 logged: 2100 more than kept
    assert retire_history(eng, threshold=2000) == 3100
    assert st.raw == [] and eng.outputs_before == 5100


def test_a_waveform_file_keeps_everything():
    eng, st = _engine(counter=4 * KEEP_MU)
    _log(st, 0, 3000)
    eng.recorder = object()
    assert retire_history(eng, threshold=100) == 0 and len(st.raw) == 3000
