# SPDX-License-Identifier: LGPL-3.0-or-later
"""Input side of a TTLInOut channel's PHY: gating, sampling and watching on the edges the worlds
give (``artiq/gateware/rtio/phy/ttl_serdes_generic.py``; the latencies ``GATE_OFFSET_MU`` and
``INPUT_ARRIVAL_MU`` and the output addresses are :mod:`sim.rtio.phy.ttl`'s). Events are
``(arrival, timestamp, data)`` in mu; the log keeps ``(timestamp, data)``.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter
from typing import Any

from sim.rtio.channels import ChannelState
from sim.rtio.phy.ttl import GATE_OFFSET_MU, INPUT_ARRIVAL_MU

__all__ = ["TTLInputPhy"]

_NEG = -(1 << 62)
#: an event's ``(timestamp, data)`` as the log keeps it (one C call per event)
_TS_DATA = itemgetter(1, 2)


def _register(
    edges: list[tuple[int, int]],
    i: int,
    j: int,
    sens: int,
    level: int,
    last_c: int,
    out: list[tuple[int, int, int]],
) -> tuple[int, int]:
    """The input events of ``edges[i:j]`` under sensitivity ``sens`` (bit 0 rising, bit 1
    falling), from input ``level`` and the coarse cycle ``last_c`` of the last event: an edge
    that changes the level and that the sensitivity takes is an event (arrival, timestamp,
    level) appended to ``out``, at most one per coarse cycle. Returns the new ``(level,
    last_c)``."""
    if sens == 0:  # the level alone: that of the last edge
        return (1 if edges[j - 1][1] else 0), last_c
    if sens == 1:  # rising edges (a readout gate): no level but high needs telling apart
        for t, new in edges[i:j]:
            if not new:
                level = 0
            elif not level:
                level = 1
                c = t >> 3
                if c != last_c:
                    last_c = c
                    out.append((t + INPUT_ARRIVAL_MU, t, 1))
        return level, last_c
    for t, new in edges[i:j]:
        new = 1 if new else 0
        if new == level:
            continue
        level = new
        if sens & (1 if new else 2):
            c = t >> 3
            if c != last_c:
                last_c = c
                out.append((t + INPUT_ARRIVAL_MU, t, level))
    return level, last_c


def _controls_alone(
    res: list[tuple[int, int, int]], i: int, j: int, sens: int, level: int, out: list
) -> int:
    """The gate controls among ``res[i:j]`` (addresses 2, 3) applied with no input edge between
    them (:meth:`TTLInputPhy.input_events`' loop over them): each sample request an event
    (arrival, timestamp, ``level``) appended to ``out``; returns the sensitivity after the
    last, ``sens`` if none."""
    seg = res[i:j]
    if 3 in map(itemgetter(1), seg):
        for ts, addr, _ in seg:
            if addr == 3:
                tc = ts + GATE_OFFSET_MU
                out.append((tc + INPUT_ARRIVAL_MU, tc, level))
    for k in range(len(seg) - 1, -1, -1):
        if seg[k][1] >= 2:
            return seg[k][2] & 3
    return sens


class TTLInputPhy:
    """Input side of a TTLInOut channel: gating, sampling and watching on edges from the worlds."""

    def __init__(self, engine: Any, channel: int) -> None:
        self.engine = engine
        self.channel = channel
        self.sens = 0
        self.level = 0
        self.last_c = _NEG
        self.ctrl_idx = 0
        self.edges: list[tuple[int, int]] = []
        self.edge_idx = 0
        self.log: list[tuple[int, int]] = []  # (ts, data) of every input event produced
        #: every edge so far came after the ones before it (the edges before a gate control
        #: are then found by bisection)
        self.ordered = True
        self._st: ChannelState | None = None  # the channel's state (made once, never replaced)

    def _controls(self) -> list[tuple[int, int, int]]:
        """The channel's resolved outputs (the engine's ``resolved``; a log in time order is
        its own resolution)."""
        st = self._st
        if st is None:
            st = self._st = getattr(self.engine, "channels", {}).get(self.channel)
            if st is None:  # (none yet, or an engine that only resolves)
                return self.engine.resolved(self.channel)
        return self.engine.resolved(self.channel) if st.flagged else st.raw

    def rtio_reset(self, counter: int) -> None:
        """``core.reset()`` clears gate sensitivities (``rio`` domain)."""
        self.sens = 0

    def input_events(self, t_end: int) -> list[tuple[int, int, int]]:
        """Events (arrival, timestamp, data) with arrival < ``t_end``, in order."""
        ts_end = t_end - INPUT_ARRIVAL_MU
        eng = self.engine
        new_edges = eng.world_edges(self.channel, ts_end)
        if new_edges:
            if self.edges and new_edges[0][0] < self.edges[-1][0]:
                self.ordered = False  # (no world does this: each gives its edges in time order)
            if self.edge_idx > 256:
                del self.edges[: self.edge_idx]
                self.edge_idx = 0
            self.edges.extend(new_edges)
        edges = self.edges
        ei, ne = self.edge_idx, len(edges)
        res = self._controls()
        nc = len(res)
        ci = self.ctrl_idx if self.ctrl_idx < nc else nc
        out: list[tuple[int, int, int]] = []
        sens, level, last_c = self.sens, self.level, self.last_c
        ctrl_end = ts_end - GATE_OFFSET_MU
        if self.ordered and nc - ci > 2:
            # the controls that apply before the next edge, at once (a fast-forward's skipped
            # passes leave many gates without an edge)
            limit = ctrl_end if ei == ne else min(ctrl_end, edges[ei][0] - GATE_OFFSET_MU + 1)
            cj = bisect_left(res, (limit,), ci, nc)  # compares the times only
            if cj - ci > 2:
                sens = _controls_alone(res, ci, cj, sens, level, out)
                ci = cj
        while True:
            # next control (addresses 2/3) that is due before ts_end; it applies to the edges
            # from its time + GATE_OFFSET_MU on (tc: that time, None if there is none)
            while ci < nc and res[ci][1] < 2:
                ci += 1
            tc = res[ci][0] + GATE_OFFSET_MU if ci < nc and res[ci][0] < ctrl_end else None
            # the edges before it, under the sensitivity in force
            if tc is None:
                ej = ne
            elif self.ordered:
                ej = bisect_left(edges, (tc,), ei, ne)  # compares the times only
            else:
                ej = next((k for k in range(ei, ne) if edges[k][0] >= tc), ne)
            if ej > ei:
                level, last_c = _register(edges, ei, ej, sens, level, last_c, out)
                ei = ej
            if tc is None:
                break
            _, addr, data = res[ci]
            ci += 1
            sens = data & 3
            if addr == 3:
                out.append((tc + INPUT_ARRIVAL_MU, tc, level))
        self.sens, self.level, self.last_c = sens, level, last_c
        self.ctrl_idx, self.edge_idx = ci, ei
        if out:
            self.log.extend(map(_TS_DATA, out))
        return out

    def absorb_controls(self, sens: int, n_before: int) -> bool:
        """Passes repeated after the first ``n_before`` logged submissions, not logged
        (:mod:`sim.rtio.unlogged`), with no input edge at their times, whose last gate control
        sets the sensitivity ``sens``: applied now, as the next :meth:`input_events` would apply
        them with no edge between, if every control and edge before them is consumed. False
        (nothing done) otherwise."""
        if self.ctrl_idx != n_before or self.edge_idx != len(self.edges) or not self.ordered:
            return False
        self.sens = sens
        return True

    def quiet_until(self, t_need: int) -> int:
        """An arrival time (mu) up to which :meth:`input_events` produces nothing (its worlds
        find no edge and move nothing, and no sample is due), as long as nothing is submitted
        meanwhile; it may stop short of ``t_need`` once that is clearly not reached."""
        t = self.engine.quiet_until(self.channel, t_need - INPUT_ARRIVAL_MU) + INPUT_ARRIVAL_MU
        if t < t_need:
            return t  # (short of t_need already: a sample could only make it earlier)
        sample = self.next_self_event()  # a pending sample: an event of its own
        return t if sample is None or t < sample else sample

    def next_self_event(self) -> int | None:
        """Arrival time of the next pending sample request (None if none is pending)."""
        res = self._controls()
        for i in range(self.ctrl_idx, len(res)):  # (none when ctrl_idx is past the end)
            if res[i][1] == 3:
                return res[i][0] + GATE_OFFSET_MU + INPUT_ARRIVAL_MU
        return None
