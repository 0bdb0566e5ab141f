# SPDX-License-Identifier: LGPL-3.0-or-later
"""The RTIO counter and the CPU costs that advance it.

The counter (mu) runs regardless of what the CPU does (ARTIQ's gateware counter is coarse, so
:meth:`Counter.get_rtio_counter_mu` returns it rounded down to a multiple of 8). It advances by the
CPU cost of every operation (:mod:`sim.rtio.costs`), by blocking input reads, by ``wait_until_mu``
and by stalls on full output lanes. Slack = cursor − counter.

Persistent clocks between runs (export/restore of ``now`` and ``counter``) belong here.
"""

from __future__ import annotations

from sim.rtio.costs import CostProfile, load_profile

__all__ = ["Counter"]


class Counter:
    """RTIO counter and CPU-cost profile (mixed into the engine)."""

    now: int

    def _init_counter(self, costs: "CostProfile | str") -> None:
        self.counter = 0
        self.set_costs(costs)

    def set_costs(self, costs: "CostProfile | str") -> None:
        """Swap the CPU-cost profile."""
        self.costs = load_profile(costs)
        self._c_out = self.costs.rtio_output
        self._c_delay = self.costs.delay
        #: from one submission of ``ttl.pulse`` to its second: the delay, the second submission
        self._c_gap = self.costs.delay + self.costs.rtio_output

    def get_rtio_counter_mu(self) -> int:
        """The coarse RTIO counter (multiple of 8), without charging CPU time."""
        return self.counter & ~7

    def rtio_get_counter(self) -> int:
        """Syscall ``rtio_get_counter``: charge the CSR read, return the counter (multiple of 8)."""
        self.counter += self.costs.get_counter
        return self.counter & ~7

    def advance_counter(self, mu: int) -> None:
        """Let ``mu`` of counter time pass (host work between kernels, RPCs, launch)."""
        if mu > 0:
            self.counter += int(mu)

    def wait_until_mu(self, t: int) -> None:
        """Busy-wait until the coarse counter reaches ``t`` (``core.wait_until_mu``)."""
        self.counter += self.costs.get_counter
        t = (int(t) + 7) & ~7
        if self.counter < t:
            self.counter = t

    def slack(self) -> int:
        return self.now - self.counter
