# SPDX-License-Identifier: LGPL-3.0-or-later
"""The entangler PHY's counters after a run (single-input and pattern counters, from the run's
pattern counts) as the counter matrix's product, for random counter patterns and counts
(seeded): the PHY sums them without numpy's product, when they are read; the inputs whose
timestamp is stale (fired, not in the last pattern) are found without them."""

import numpy as np

from sim.rtio.phy.entangler import EntanglerPhy


class _Engine:
    rng = None
    recorder = None


def test_counters_are_the_counter_matrix_product():
    rng = np.random.default_rng(18)
    phy = EntanglerPhy(_Engine(), 0)
    phy.tcycle = 100
    for _ in range(200):
        # four 4-bit patterns per counter, a random set of them enabled (bits 16-19)
        phy.counter_patterns = [
            sum(int(q) << 4 * j for j, q in enumerate(rng.integers(16, size=4)))
            | int(rng.integers(16)) << 16
            for _ in range(4)
        ]
        cmat = phy._config().cmat
        counts = rng.multinomial(int(rng.integers(0, 5000)), rng.dirichlet(np.ones(16) * 0.3))
        last = int(rng.integers(16))
        phy._stale.clear()
        phy._set_counters(model := object(), counts, cmat, None, last)
        expected = (counts @ cmat).tolist()
        stale = [i for i in range(4) if expected[i] and not last >> i & 1]
        assert list(phy._stale) == stale
        assert all(phy._stale[i].model is model and phy._stale[i].counts is counts for i in stale)
        assert phy.counters == expected
        assert phy.counters == expected  # (summed once)
