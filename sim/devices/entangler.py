# SPDX-License-Identifier: LGPL-3.0-or-later
"""``drivers.entangler.Entangler`` for the simulator: the same driver, with identical timed-out runs
of :meth:`~drivers.entangler.Entangler.run_until_herald_mu` executed in one step.

Each pass of the loop runs in detail through the driver while the engine captures what it
submitted; :class:`sim.fastforward_loop.FastForwardLoop` learns the loop's fixed point from those
passes and has the engine repeat it (see :mod:`sim.fastforward`). ``fast_forward=False`` (a
``sim_args`` entry) runs every pass in detail (the tests' reference).
"""

from __future__ import annotations

from typing import Any

from artiq.language.core import kernel
from numpy import int64

from drivers import entangler as _driver
from sim.fastforward_loop import FastForwardLoop
from sim.rtio.errors import RTIOUnderflow
from sim.rtio.retire import RETIRE_EVERY, retire_history

__all__ = ["Entangler"]


class Entangler(_driver.Entangler):
    """Entangler core driver with the simulator's fast-forward (see module docstring)."""

    def __init__(
        self, dmgr: Any, channel: int, *, fast_forward: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(dmgr, channel, **kwargs)
        self.fast_forward = fast_forward
        self._loop: FastForwardLoop | None = None
        self._calls = 0

    @kernel
    def run_until_herald_mu(
        self, cool: Any, duration_mu: int, margin_mu: int, max_runs: int, standalone: bool = True
    ) -> tuple[int | int64, int, int]:
        """As the driver's; runs the loop's identical timeouts in one step."""
        eng = getattr(self.core, "engine", None)
        if not self.fast_forward or eng is None or not eng.fast_forward_allowed:
            return _driver.Entangler.run_until_herald_mu(
                self, cool, duration_mu, margin_mu, max_runs, standalone
            )
        max_runs = int(max_runs)  # (a kernel's int32 times a period overflows past 2**31 mu)
        self._calls += 1
        if self._calls % RETIRE_EVERY == 1:
            retire_history(eng)  # a long loop's memory stays bounded (no VCD: the past is unread)
        if self._loop is None or self._loop.engine is not eng:
            self._loop = FastForwardLoop(eng, self.channel)
        loop = self._loop
        # what else decides a pass: the loop's arguments and the CPU costs
        loop.start((tuple(cool), int(duration_mu), int(margin_mu), bool(standalone), id(eng.costs)))
        end_mu: int | int64 = int64(0)
        reason = _driver.TIMEOUT
        # the first pass, when seen before from an equal start (then with the fixed point)
        timeouts, t_end = loop.resume(0, 0, max_runs)
        if timeouts:
            end_mu = t_end
        drawn = getattr(loop.phy, "herald_drawn", None)
        while timeouts < max_runs:
            herald = drawn is not None and drawn()
            answered = loop.answered_pass() if herald else None
            if answered is not None:  # (the pass after the skip, its run drawn to herald)
                end_mu, reason = answered
                if reason != _driver.TIMEOUT:
                    loop.forget()
                    break
                timeouts, end_mu = loop.after_timeout(None, end_mu, timeouts + 1, max_runs)
                continue
            # (a pass whose run is drawn to herald is not learnt: its submissions not recorded)
            capturing = not herald and eng.capture_start()
            try:
                end_mu, reason = self.cooled_run_mu(cool, duration_mu, margin_mu, standalone)
            except RTIOUnderflow:
                if capturing:
                    eng.capture_stop()
                loop.forget()
                return end_mu, _driver.UNDERFLOW, timeouts
            period = eng.capture_stop() if capturing else None
            if reason != _driver.TIMEOUT:
                loop.forget()
                break
            timeouts, end_mu = loop.after_timeout(period, int(end_mu), timeouts + 1, max_runs)
        return end_mu, reason, timeouts
