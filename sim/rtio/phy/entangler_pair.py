# SPDX-License-Identifier: LGPL-3.0-or-later
"""Master and slave entangler cores on their link cable (OxfordIonTrapGroup/entangler-core
``core.py``, ``MainStateMachine``), the part of :class:`~sim.rtio.phy.entangler.EntanglerPhy`
that pairs two of them.

The cable carries ``ready`` slave → master and ``trigger``, ``success``, ``timeout`` master →
slave, each input registered one clock. A RUN write makes a core *ready*. The master (``is_master``
or ``standalone``) starts each cycle when ready and — unless standalone — when the slave reports
ready, and drives ``trigger`` for two clocks, which the register delay on the slave's side turns
into cycle starts aligned with the master's (a cable longer than one clock, 8 ns, shifts the
slave's cycles by whole clocks). The slave runs its own sequencer (node B's pump and excitation
here) in each triggered cycle; the heralder is on the master, which decides success or timeout;
the slave ends with it two clocks later (its SLAVE_SUCCESS_WAIT/CHECK states) and answers its own
RUN with an input event (0x3fff on timeout). A slave whose master never triggers counts down its
own timeout and then ends its run with the timeout answer and no cycle.

In the simulation the master's run draws the cycles of the pair as one core whose outputs 2 and
3 are the slave's outputs 0 and 1 (the lab's ``entangler.outputs``), so that the herald
statistics are the single-core model's; the slave's registers follow the master's run.
"""

from __future__ import annotations

from typing import Any

from drivers.entangler_registers import CONFIG_ENABLE, CONFIG_MASTER, CONFIG_STANDALONE, TIMEOUT
from sim.rtio.phy.ttl import INPUT_ARRIVAL_MU

__all__ = ["EntanglerPairing", "SLAVE_END_DELAY_MU"]

#: the slave's run ends two clocks after the master's (SLAVE_SUCCESS_WAIT, SLAVE_SUCCESS_CHECK)
SLAVE_END_DELAY_MU = 16


class EntanglerPairing:
    """Mixin of :class:`~sim.rtio.phy.entangler.EntanglerPhy`: its partner on the link cable."""

    partner: Any = None
    #: this core is the slave of its partner
    slave_role = False
    #: the slave's cycles start this much after the master's (whole clocks of cable delay)
    slave_offset_mu = 0
    #: slave: (RUN timestamp, timeout deadline) while ready and not yet triggered
    armed: tuple[int, int] | None = None

    config: int
    status: int
    ncycles: int
    time_remaining: int
    events: Any
    herald_log: list[tuple[int, int]]
    channel: int
    engine: Any

    def pair_with(self, slave: Any, cable_mu: int) -> None:
        """Link ``slave`` to this master by the cable (propagation ``cable_mu``)."""
        self.partner = slave
        slave.partner = self
        slave.slave_role = True
        self.slave_offset_mu = slave.slave_offset_mu = 8 * (max(int(cable_mu), 0) // 8)

    def acts_as_slave(self) -> bool:
        """Paired as slave and neither ``is_master`` nor ``standalone`` written in CONFIG."""
        return self.slave_role and not self.config & (CONFIG_MASTER | CONFIG_STANDALONE)

    # ------------------------------------------------------------------ slave side
    def arm(self, ts: int, timeout_coarse: int) -> None:
        """A RUN write on the slave: ready from ``ts`` until its own timeout runs out."""
        self._expire(ts)
        self.armed = (ts, ts + 8 * max(int(timeout_coarse), 0))
        self.status = 1

    def _expire(self, t_end: int) -> None:
        """A slave whose master never triggered it ends its run at its timeout, no cycle run."""
        arm = self.armed
        if arm is not None and arm[1] < t_end:
            self.armed = None
            self._finish(arm[1], 0, False)

    def _finish(self, t_end: int, n_cycles: int, success: bool) -> None:
        self.ncycles = n_cycles
        self.time_remaining = 0
        self.status = 0b011 if success else 0b101
        if self.config & CONFIG_ENABLE:  # the core answers its RUN only while enabled
            data = 0 if success else TIMEOUT  # no detector on the slave's heralder
            self.events.append((t_end + INPUT_ARRIVAL_MU, t_end, data))
            self.herald_log.append((t_end, data))

    def slave_pending(self, t_end: int) -> None:
        """Called before the slave's input events up to ``t_end`` are handed out."""
        if self.armed is not None:
            self._expire(t_end)

    # ------------------------------------------------------------------ master side
    def slave_outputs(self, t_trigger: int, cycle_mu: int) -> dict[int, tuple[int, int]] | None:
        """The slave's output windows as outputs 2 and 3 of the pair, if the slave is enabled
        and ready at the trigger ``t_trigger``; None otherwise."""
        slave = self.partner
        if slave is None or self.slave_role:
            return None
        arm = slave.armed
        if arm is None or not arm[0] <= t_trigger < arm[1] or not slave.config & CONFIG_ENABLE:
            return None
        outs, _, _ = slave.windows()
        shift = self.slave_offset_mu
        return {
            i + 2: (a + shift, min(b + shift, cycle_mu))
            for i, (a, b) in outs.items()
            if i < 2 and a + shift < cycle_mu
        }

    def slave_done(self, t_end: int, n_cycles: int, success: bool) -> None:
        """The master's run is over: the slave ends two clocks later."""
        slave = self.partner
        slave.armed = None
        slave._finish(t_end + SLAVE_END_DELAY_MU, n_cycles, success)

    def wait_for_slave(self, ts: int, timeout_coarse: int) -> None:
        """A master (not standalone) whose slave is not ready idles until its own timeout."""
        t_end = ts + 8 * max(int(timeout_coarse), 0)
        self.ncycles = 0
        self.time_remaining = 0
        self.status = 0b101
        self.events.append((t_end + INPUT_ARRIVAL_MU, t_end, TIMEOUT))
        self.herald_log.append((t_end, TIMEOUT))
