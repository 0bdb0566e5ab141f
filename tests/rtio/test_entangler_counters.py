# SPDX-License-Identifier: LGPL-3.0-or-later
"""The entangler PHY's counters after a run (single-input and pattern counters, from the run's
pattern counts) as the counter matrix's product, for random counter patterns and counts
(seeded): the PHY sums the matrix's columns without numpy's product."""

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
        phy._set_counters(None, counts, cmat, None, 0)
        assert phy.counters == (counts @ cmat).tolist()
