# SPDX-License-Identifier: LGPL-3.0-or-later
"""Dark counts of a click channel and the intervals a fast-forward suppresses."""

import numpy as np

from sim.physics.detectors import ClickChannel


def test_suppressed_intervals_hide_dark_counts_across_drains():
    # 10 MHz of darks at 1 ns/mu: ~10 per µs. Periodic blocks [1000 + 2000 j, + 1500) for
    # j < 5 (ends at 10 500), a single block [20 000, 25 000); drained in four steps, so that
    # blocks that ended are pruned while later ones must still hide their darks.
    ch = ClickChannel(np.random.default_rng(3), dark_rate_hz=1e7, width_s=1e-9, dead_time_s=0)
    ch.suppress_periodic(1000, 2000, 5, 1500)
    ch.suppress(20_000, 25_000)
    rising = []
    for t_end in (4_000, 12_000, 22_000, 40_000):
        rising += [t for t, lvl in ch.drain(t_end) if lvl]
    t = np.array(rising)
    in_periodic = (t >= 1000) & (t < 10_500) & ((t - 1000) % 2000 < 1500)
    in_single = (t >= 20_000) & (t < 25_000)
    assert not in_periodic.any() and not in_single.any()
    # the gaps between blocks and the time after them keep their darks (~10 per µs; the 15 µs
    # after the last block alone expect 150, so fewer than 100 is a > 4 σ deficit)
    assert ((t >= 25_000) & (t < 40_000)).sum() > 100
    assert ((t >= 10_500) & (t < 20_000)).sum() > 60
