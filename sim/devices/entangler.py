# SPDX-License-Identifier: LGPL-3.0-or-later
"""``drivers.entangler.Entangler`` for the simulator: the same driver, with identical timed-out runs
of :meth:`~drivers.entangler.Entangler.run_until_herald_mu` executed in one step.

Between heralds a gateware-heralded link spends almost all its time in runs that time out: cool
(DMA), enable, run, resync, again. Once the loop is periodic, every further timeout is the same
pass shifted in time, and only the number of them before the next herald is random. The model runs
each pass in detail through the driver while the engine records what it submitted
(:meth:`RTIOEngine.capture_start`). A pass that timed out and was followed by an identical one
(relative to its start: submissions and clocks, run configuration and cycle law, the physics'
windows) is a fixed point of the loop. Once a pass that timed out ends where the fixed point ends
(clocks relative to the cursor, run end, run configuration, beams and the ions' non-herald state,
the loop's arguments), every further pass repeats the fixed point; a pass seen to lead from where
another ended to there is learnt too (a transient, e.g. after a readout left the RTIO counter at
another phase). The engine then asks the entangler PHY how many of those passes time out (a
geometric draw from the run's herald probability; the physics world checks that the ions'
temperatures keep the same cycle law, and heats and cools them in closed form) and logs their
submissions, shifted, as the SED would; the PHY draws the next run conditioned on heralding.
Everything else (the first pass after a herald, the heralding run, underflows) runs in detail.
``fast_forward=False`` (a ``sim_args`` entry) runs every pass in detail (the tests' reference).
"""
from __future__ import annotations

from typing import Any

from numpy import int64

from artiq.language.core import kernel
from drivers import entangler as _driver
from sim.rtio.errors import RTIOUnderflow

__all__ = ["Entangler"]


class Entangler(_driver.Entangler):
    """Entangler core driver with the simulator's fast-forward (see module docstring)."""

    def __init__(self, dmgr: Any, channel: int, *, fast_forward: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(dmgr, channel, **kwargs)
        self.fast_forward = fast_forward
        # (key, end state, period, physics) of a pass that repeated itself; the last pass's key
        # and end state; per end state, the pass seen to follow it (period, physics, end state)
        self._fixed: tuple | None = None
        self._prev: tuple | None = None
        self._prev_end: tuple | None = None
        self._after: dict[tuple, tuple] = {}

    @kernel
    def run_until_herald_mu(self, cool: Any, duration_mu: int, margin_mu: int, max_runs: int,
                            standalone: bool = True) -> tuple[int, int, int]:
        """As the driver's; runs the loop's identical timeouts in one step."""
        eng = getattr(self.core, "engine", None)
        if not self.fast_forward or eng is None:
            return _driver.Entangler.run_until_herald_mu(self, cool, duration_mu, margin_mu,
                                                         max_runs, standalone)
        phy = eng.channels[self.channel].phy
        self._prev = self._prev_end = None   # the first pass follows whatever the kernel did
        # what else decides a pass: the loop's arguments and the CPU costs
        body = (tuple(cool), int(duration_mu), int(margin_mu), bool(standalone), id(eng.costs))
        timeouts = 0
        end_mu = int64(0)
        reason = _driver.TIMEOUT
        while timeouts < max_runs:
            capturing = eng.capture_start()
            try:
                end_mu, reason = self.cooled_run_mu(cool, duration_mu, margin_mu, standalone)
            except RTIOUnderflow:
                if capturing:
                    eng.capture_stop()
                self._prev = self._prev_end = None
                return end_mu, _driver.UNDERFLOW, timeouts
            period = eng.capture_stop() if capturing else None
            if reason != _driver.TIMEOUT:
                self._prev = self._prev_end = None
                break
            timeouts += 1
            sig = phy.period_signature() if period is not None else None
            if sig is None:
                self._prev = self._prev_end = None
                continue
            run, content, state = sig
            # where the pass left the loop: clocks relative to the cursor, run end, physics
            ended = (period.now1 - period.counter1, period.now1 - end_mu, run, state, body)
            key = (period.key, run, content) if content is not None else None
            if key is not None:
                if key == self._prev:
                    self._fixed = (key, ended, period, content)
                if self._prev_end is not None:
                    if len(self._after) >= 64:
                        self._after.clear()
                    self._after[self._prev_end] = (period, content, ended)
            self._prev, self._prev_end = key, ended
            fixed = self._fixed
            if fixed is None or timeouts >= max_runs:
                continue
            step = self._after.get(ended)
            if ended != fixed[1] and step is not None and step[2] == fixed[1]:
                # one known pass leads from here to where the fixed point ends
                k = eng.repeat_period(step[0], 1, self.channel, step[1])
                if k == 0:
                    continue
                timeouts += 1
                end_mu = eng.now - step[2][1]
                ended = self._prev_end = step[2]
                self._prev = None
            if ended == fixed[1] and timeouts < max_runs:
                k = eng.repeat_period(fixed[2], max_runs - timeouts, self.channel, fixed[3])
                if k:
                    timeouts += k
                    end_mu = eng.now - fixed[1][1]
                    self._prev = fixed[0]
        return end_mu, reason, timeouts
