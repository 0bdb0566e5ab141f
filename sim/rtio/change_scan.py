# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which channels of a fixed list a repeated scan must visit again.

A physics world asks the engine about the same beam channels at each of its advances (their new
level changes, their next output), at times that do not decrease; most of the channels had nothing
submitted since it last asked. A :class:`ChangeScan` tells the scan which to visit: those the last
scan did not find *settled* (nothing to report from its time on, as long as nothing is submitted),
and those submitted to since: every submission path (the SED's, the TTL drivers' fast paths, DMA
playback through them, the fast-forward's repeated and unlogged passes) calls
:func:`note_submitted` for a channel some scan watches (:attr:`ChannelState.watch`). Every other
channel is settled still, so the scan's own check would find it so again. Edits of a log other
than appending (retiring, compaction, the reset's flush, a restored state) are not noted: the
engine counts them (:attr:`~sim.rtio.views.PhyViews.log_edits`), and a new count makes the next
scan visit every channel, as does a time earlier than the last scan's."""

from __future__ import annotations

from typing import Sequence

from sim.rtio.channels import ChannelState

__all__ = ["ChangeScan", "note_submitted"]


def note_submitted(st: ChannelState) -> None:
    """``st``, a channel some scan watches, was submitted to: each watching scan visits it next."""
    for changed, i in st.watch or ():
        changed.add(i)


class ChangeScan:
    """The channels of ``states`` a scan at a time must visit (see the module docstring); it
    watches them from its creation on (made once per channel list: it stays registered)."""

    __slots__ = ("states", "_all", "_changed", "_unsettled", "_t", "_edits")

    def __init__(self, states: Sequence[ChannelState]) -> None:
        self.states = list(states)
        self._all = range(len(self.states))
        self._changed: set[int] = set()  # indices submitted to since the last scan
        self._unsettled: list[int] = []
        self._t: int | None = None  # the last scan's time (None: no scan yet)
        self._edits = -1
        for i, st in enumerate(self.states):
            if st.watch is None:
                st.watch = []
            st.watch.append((self._changed, i))

    def to_visit(self, t: int, edits: int) -> Sequence[int]:
        """Indices (ascending) of the channels a scan from time ``t`` must visit; ``edits``: the
        engine's count of log edits now. Follow with :meth:`scanned`."""
        changed = self._changed
        if self._t is None or t < self._t or edits != self._edits:
            changed.clear()
            return self._all
        if not changed:
            return self._unsettled
        visit = sorted(changed.union(self._unsettled))
        changed.clear()
        return visit

    def scanned(self, t: int, edits: int, unsettled: list[int]) -> None:
        """The scan from ``t`` that :meth:`to_visit` prepared found the channels ``unsettled``
        (ascending indices) not settled, all others settled; ``edits``: the engine's count after
        it (a scan may compact a log)."""
        self._unsettled = unsettled
        self._t = t
        self._edits = edits
