# SPDX-License-Identifier: LGPL-3.0-or-later
"""Gateware edge counter PHY (``artiq/gateware/rtio/phy/edge_counter.py``, driver
``artiq/coredevice/edge_counter.py``).

A config write (address 0) at output timestamp ``t`` takes effect for input edges at ``t + 88`` mu
(the same input-path offset as the TTL gate, :data:`sim.rtio.phy.ttl.GATE_OFFSET_MU`). Config bits:
COUNT_RISING 1, COUNT_FALLING 2, SEND_COUNT_EVENT 4 (emit the current count as an input event,
timestamp = effect time, so ``0 <= ts - gate_end < 100`` as ``test_edge_counter.py`` requires),
RESET_TO_ZERO 8 (applied after sending). The count saturates at ``2**(width-1) - 1``.
"""

from __future__ import annotations

from typing import Any

from sim.rtio.phy.ttl import GATE_OFFSET_MU, INPUT_ARRIVAL_MU

__all__ = ["EdgeCounterPhy"]


class EdgeCounterPhy:
    """Counts edges from the worlds on its channel inside the configured windows."""

    def __init__(self, engine: Any, channel: int, gateware_width: int = 31) -> None:
        self.engine = engine
        self.channel = channel
        self.counter_max = (1 << (gateware_width - 1)) - 1
        self.config = 0
        self.count = 0
        self.level = 0
        self.ctrl_idx = 0
        self.edges: list[tuple[int, int]] = []
        self.edge_idx = 0

    def rtio_reset(self, counter: int) -> None:
        self.config = 0

    def input_events(self, t_end: int) -> list[tuple[int, int, int]]:
        ts_end = t_end - INPUT_ARRIVAL_MU
        eng = self.engine
        self.edges.extend(eng.world_edges(self.channel, ts_end))
        edges, ei, ne = self.edges, self.edge_idx, len(self.edges)
        res = eng.resolved(self.channel)
        ci, nc = min(self.ctrl_idx, len(res)), len(res)
        ctrl_end = ts_end - GATE_OFFSET_MU
        out: list[tuple[int, int, int]] = []
        config, count, level, cmax = self.config, self.count, self.level, self.counter_max
        while True:
            tc = res[ci][0] if ci < nc and res[ci][0] < ctrl_end else None
            te = edges[ei][0] if ei < ne else None
            if tc is None and te is None:
                break
            if tc is not None and (te is None or tc + GATE_OFFSET_MU <= te):
                config = res[ci][2]
                ci += 1
                t = tc + GATE_OFFSET_MU
                if config & 4:
                    out.append((t + INPUT_ARRIVAL_MU, t, count))
                if config & 8:
                    count = 0
                continue
            _, new = edges[ei]
            ei += 1
            new = 1 if new else 0
            if new == level:
                continue
            level = new
            if config & (1 if new else 2) and count < cmax:
                count += 1
        self.config, self.count, self.level = config, count, level
        self.ctrl_idx, self.edge_idx = ci, ei
        return out

    def next_self_event(self) -> int | None:
        """Arrival time of the next pending count event (None if none is pending)."""
        res = self.engine.resolved(self.channel)
        for i in range(min(self.ctrl_idx, len(res)), len(res)):
            if res[i][2] & 4:
                return res[i][0] + GATE_OFFSET_MU + INPUT_ARRIVAL_MU
        return None
