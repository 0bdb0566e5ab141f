# SPDX-License-Identifier: LGPL-3.0-or-later
"""The output states of one AD9910 channel in time (:class:`DDSTimeline`, what an IO_UPDATE applies,
:mod:`sim.rtio.phy.urukul`) and the stamps that mark every change of a timeline or of a Urukul
CPLD's histories (:data:`STAMPS`), so that a reader can keep what it found while nothing changed
(:meth:`sim.rtio.views.PhyViews.dds_changes`, :class:`sim.rtio.views.DDSWatch`)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

__all__ = ["STAMPS", "DDSState", "DDSTimeline"]

try:
    from sim.physics.view import DDSState
except ImportError:  # pragma: no cover - physics package absent
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class DDSState:  # type: ignore[no-redef]
        t_mu: int
        frequency_hz: float
        phase_turns: float
        amplitude: float
        profile: int = 0


_new_object = object.__new__


class _Stamps:
    """A counter of stamps (``next``) that keeps the ``last`` one drawn."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = 0

    def __iter__(self) -> _Stamps:
        return self

    def __next__(self) -> int:
        self.last += 1
        return self.last


#: stamps of the changes to the DDS timelines and the CPLDs' CFG and attenuator histories, from
#: one counter: a new stamp is larger than every earlier one, of any timeline or CPLD; its
#: ``last`` changes with every change of any of them (:class:`sim.rtio.views.DDSWatch`)
STAMPS = _Stamps()


def _same(a: DDSState, b: DDSState) -> bool:
    """Whether two states play the same output (frequency, phase, amplitude, profile)."""
    return (
        a.frequency_hz == b.frequency_hz
        and a.amplitude == b.amplitude
        and a.phase_turns == b.phase_turns
        and a.profile == b.profile
    )


def _moved(state: DDSState, t_mu: int) -> DDSState:
    """``state`` effective from ``t_mu`` instead (a copy; ``dataclasses.replace`` without its
    per-field checks: an IO_UPDATE that applies an unchanged profile is the common case)."""
    out = _new_object(DDSState)
    d = out.__dict__
    d.update(state.__dict__)
    d["t_mu"] = t_mu
    return out


class DDSTimeline:
    """Time-ordered AD9910 states of one channel.

    ``t[i]`` is when ``s[i]`` took effect. An IO_UPDATE that applies the same state again
    (:meth:`repeat`, every IO_UPDATE of the Urukul for its idle channels) stores the earlier state
    object under its new time; a reader gets it as a copy with that time (made once, on first
    read), so each state read has ``t_mu == t[i]``, as if made at the IO_UPDATE.

    ``stamp`` changes with every change of the timeline (:data:`STAMPS`), so that a reader can
    keep what it found (:meth:`sim.rtio.views.PhyViews.dds_changes`)."""

    def __init__(self) -> None:
        self.t: list[int] = []
        self.s: list[DDSState] = []
        self.stamp = next(STAMPS)
        #: the state in effect is the same at every time at or after this one (mu): the latest
        #: entry that is not a :meth:`repeat` of the one before (or later)
        self.t_changed = -(1 << 62)

    def add(self, state: DDSState) -> None:
        self.repeat(state, state.t_mu)

    def repeat(self, state: DDSState, t_mu: int) -> None:
        """``state`` (its values; its ``t_mu`` may be earlier) took effect again at ``t_mu``."""
        self.stamp = next(STAMPS)
        t, s = self.t, self.s
        if t and t_mu < t[-1]:
            i = bisect_right(t, t_mu)
            t.insert(i, t_mu)
            s.insert(i, state)
            self.t_changed = max(self.t_changed, t[-1])  # (the entries after it: as if changed)
        else:
            if not s or (state is not s[-1] and not _same(state, s[-1])):
                self.t_changed = t_mu
            t.append(t_mu)
            s.append(state)

    def _state(self, i: int) -> DDSState:
        state, t_mu = self.s[i], self.t[i]
        if state.t_mu != t_mu:  # a repeat, not read before
            state = self.s[i] = _moved(state, t_mu)
        return state

    def states(self, t_from: int, t_to: int) -> list[DDSState]:
        return [
            self._state(i) for i in range(bisect_left(self.t, t_from), bisect_left(self.t, t_to))
        ]

    def drop(self, t_from: int, t_to: int) -> None:
        """Remove the states with ``t_from < t_mu <= t_to`` (a RAM ramp cut short)."""
        self.stamp = next(STAMPS)
        i, j = bisect_right(self.t, t_from), bisect_right(self.t, t_to)
        del self.t[i:j], self.s[i:j]
        self.t_changed = max(self.t_changed, t_to, self.t[-1] if self.t else t_to)

    def state_at(self, t: int) -> DDSState | None:
        i = bisect_right(self.t, t)
        return self._state(i - 1) if i else None

    def change_times(self, t_from: int, t_to: int) -> list[int]:
        """The times ``t_from <= t < t_to`` of the states that differ from the one before them
        (frequency, phase, amplitude or profile; not a :meth:`repeat`), ascending."""
        t = self.t
        if not t or t[-1] < t_from:
            return []
        i, j = bisect_left(t, t_from), bisect_left(t, t_to)
        s = self.s
        out = []
        for n in range(i, j):
            if n == 0:
                out.append(t[n])
                continue
            a, b = s[n - 1], s[n]
            if a is not b and not _same(a, b):
                out.append(t[n])
        return out
