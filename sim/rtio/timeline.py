# SPDX-License-Identifier: LGPL-3.0-or-later
"""The timeline cursor and ARTIQ's time-manager protocol, with compiled semantics.

The cursor :attr:`Timeline.now` (int64 mu) is what ``now_mu()`` returns. ``delay(t)`` rounds
``t/ref_period`` half away from zero (LLVM ``llvm.round``, as ARTIQ's compiler emits it);
``parallel`` rewinds each top-level statement to the block start and continues at the latest end.
Every cursor operation charges the CPU cost ``delay`` to the RTIO counter (:mod:`sim.rtio.counter`).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Timeline"]


class _Frame:
    __slots__ = ("parallel", "start", "end")

    def __init__(self, parallel: bool, start: int) -> None:
        self.parallel = parallel
        self.start = start
        self.end = start


class Timeline:
    """Cursor, sequential/parallel frames and seconds→mu rounding (mixed into the engine)."""

    ref_period: float
    now: int
    counter: int
    _c_delay: int
    _routed: bool

    def _init_timeline(self) -> None:
        self.now = 0
        self._frames: list[_Frame] = []
        self._par_top = False
        #: the drivers' inlined output paths must go to the engine: a bare statement of a
        #: parallel block runs or outputs are routed (``_par_top or _routed``, one flag for the
        #: per-event check; :func:`sim.rtio.ttl_outputs.ttl_pulse`)
        self._diverted = False
        self._mu_of: dict[float, int] = {}
        # the last duration of ``delay`` and of ``ttl.pulse`` (NaN: none) with its mu, checked
        # before the memo: a loop repeats its durations
        self._delay_s: Any = math.nan
        self._delay_mu = 0
        self._pulse_s: Any = math.nan
        self._pulse_mu = 0

    def enter_sequential(self) -> None:
        frames = self._frames
        if frames and frames[-1].parallel:
            self.now = frames[-1].start
        frames.append(_Frame(False, self.now))
        self._par_top = False
        self._diverted = self._routed

    def enter_parallel(self) -> None:
        frames = self._frames
        if frames and frames[-1].parallel:
            self.now = frames[-1].start
        frames.append(_Frame(True, self.now))
        self._par_top = self._diverted = True

    def exit(self) -> None:
        frames = self._frames
        f = frames.pop()
        if f.parallel:
            self.now = f.end  # compiled: at_mu(max over statement ends, start)
        if frames:
            parent = frames[-1]
            if parent.parallel:
                if self.now > parent.end:
                    parent.end = self.now
                self.now = parent.start  # the next statement starts at the block start again
            self._par_top = par = parent.parallel
            self._diverted = par or self._routed
        else:
            self._par_top = False
            self._diverted = self._routed

    def take_time_mu(self, duration: int) -> None:
        """``delay_mu``: advance the cursor (negative allowed)."""
        self.counter += self._c_delay
        if self._par_top:  # a bare statement in a parallel block (not rewritten): ends it later
            f = self._frames[-1]
            end = f.start + int(duration)
            if end > f.end:
                f.end = end
            return
        self.now += int(duration)  # a Python int, as at_mu keeps it (numpy scalars are slow)

    def take_time(self, duration: float) -> None:
        """``delay``: seconds → mu, rounded half away from zero (``llvm.round``)."""
        if duration == self._delay_s:  # the last duration's mu (a loop repeats its delays)
            mu = self._delay_mu
        else:
            memo = self._mu_of.get(duration)
            mu = self._seconds_to_mu(duration) if memo is None else memo
            self._delay_s, self._delay_mu = duration, mu
        if self._par_top:
            self.take_time_mu(mu)
            return
        self.counter += self._c_delay
        self.now += mu

    def _seconds_to_mu(self, duration: float) -> int:
        x = duration / self.ref_period
        mu = int(x + 0.5) if x >= 0 else -int(0.5 - x)
        if len(self._mu_of) < 4096:  # kernels use few distinct durations: memoise them
            self._mu_of[duration] = mu
        return mu

    def get_time_mu(self) -> int:
        return self.now

    def set_time_mu(self, time: int) -> None:
        """``at_mu``: any value, backwards allowed."""
        self.counter += self._c_delay
        self.now = int(time)

    def reset_frames(self) -> None:
        """Drop any open sequential/parallel frames (after a kernel raised)."""
        self._frames.clear()
        self._par_top = False
        self._diverted = self._routed
