# SPDX-License-Identifier: LGPL-3.0-or-later
"""The transient passes after a click skipped as one chain (mixed into the physics world, with
:class:`~sim.physics.quiet.QuietAttempts`).

After a click the loop follows a chain of known transient passes to its fixed point
(:class:`sim.fastforward.TransientChain`); each is one draw of whether it stays quiet, as
:meth:`~sim.physics.quiet_skip.QuietSkips.skip_quiet` would make it for that pass alone. Here the
chain's passes are drawn in turn without moving the world after each: between two passes of the
chain the world is where the previous one left it, so its dark-count windows are the difference
of the two passes' horizons and the ions' temperature at each excitation is heated in closed form
from the chain's start (the same mode overlap, to the 4 decimals the round tables are keyed by);
the world then moves on once, over the passes that stayed quiet, and the first that did not is
armed not quiet as :meth:`skip_quiet` arms it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .click_law import LawPass

__all__ = ["QuietTransients"]


class QuietTransients:
    """The physics world's part (mixed into it)."""

    rng: Any
    lab: Any
    mu_s: float
    ions: Any
    _t: int
    _q_known: dict
    _q_now: Any
    _q_rates: list[float]
    _q_law: Any
    _detectors: Callable[[], list]
    quiet_signature_now: Callable[[int], Any]
    _passes_in_polarisation: Callable[..., int]
    _overlap_at: Callable[[float, int], float]
    _p_empty: Callable[[Any, float], float]
    _move_on: Callable[..., None]
    _arm: Callable[..., None]

    def skip_transients(self, steps: tuple, max_passes: int, period_mu: int, t_next_mu: int) -> int:
        """:meth:`~sim.physics.quiet_skip.QuietSkips.skip_quiet` of one pass of each of ``steps``
        (known quiet passes, each leading to the next) in turn from ``t_next_mu`` every
        ``period_mu``, at most ``max_passes``, stopping at the first that is not quiet (armed
        then) or cannot be skipped: the same draws, the world moved on once. Returns the number
        skipped."""
        n = min(len(steps), max_passes)
        if n <= 0 or self.quiet_signature_now(t_next_mu) is None:
            return 0
        marks = self._q_now[4]  # (the detectors' last clicks, which skips keep)
        knowns, mu, rates = self._q_known, self.mu_s, self._q_rates
        dets = self._detectors()
        done, last = 0, None
        for i in range(n):
            ref = steps[i]
            known = knowns.get(ref)
            if known is None:
                break
            t_next = t_next_mu + i * period_mu
            if last is None:  # each detector's dark-count window, from where it has drawn to
                windows = [
                    t_next + period_mu + r - d.dark_to_mu for r, d in zip(ref.dark_rel, dets)
                ]
            else:  # ... which the previous pass left at its end plus its horizons
                windows = [period_mu + r - q for r, q in zip(ref.dark_rel, last[1].dark_rel)]
            if min(windows) < 0:
                break
            e_dark = math.exp(-sum([r * w for r, w in zip(rates, windows)]) * mu)
            fire = known.fire
            t_fire = known.fire_rel + t_next + period_mu
            if self._passes_in_polarisation(fire, t_fire, 1, period_mu) <= 0:
                break
            m0 = self._overlap_at(fire.key[2], t_fire)  # (the world stays at the chain's start)
            p0 = self._p_empty(fire, m0)
            if self.rng.random() < p0 * e_dark:
                done += 1
                last = (t_next + period_mu, ref, known)
                continue
            if last is not None:
                self._move_on(*last, marks)
            self._q_now = None
            self._arm(p0, dets, rates, windows)
            self._q_law = LawPass(t_next, known, m0)
            return done
        if last is not None:
            self._move_on(*last, marks)
        return done
