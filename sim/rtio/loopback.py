# SPDX-License-Identifier: LGPL-3.0-or-later
"""Loopback wiring: outputs of TTL-like channels fed to input channels with a fixed delay, as the
``loop_out`` → ``loop_in`` cable of ARTIQ's hardware testbench
(``artiq/test/hardware_testbench.py``, ``test_rtio.py::Loopback`` measures 20–170 ns on Kasli DIO).
Implements :class:`sim.physics.view.World`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LoopbackWorld", "DEFAULT_LOOP_DELAY_MU"]

#: ``delay_mu`` is the *measured* loop delay (output timestamp → input timestamp), as
#: ``test_rtio.py::Loopback`` measures it. It includes the output + input PHY latency that also
#: offsets gates (``lat_offset`` = 88 mu, ``LoopbackGateTiming``), so a physical cable gives
#: ``delay_mu >= 88``; ``LoopbackCount`` (first edge 25 ns after the gate opens) needs ``delay_mu >=
#: 63``. Default: 88 mu of PHY latency + 32 ns of cable.
DEFAULT_LOOP_DELAY_MU = 120

_NEG = -(1 << 62)


class LoopbackWorld:
    """``wire(out_channel, in_channel, delay_mu)``; edges are the resolved output levels,
    delayed."""

    def __init__(self) -> None:
        self.view: Any = None
        self.wires: dict[int, list[list[int]]] = {}  # in_ch -> [[out_ch, delay, t_done]]

    def attach(self, view: Any) -> None:
        self.view = view

    def wire(
        self, out_channel: int, in_channel: int, delay_mu: int = DEFAULT_LOOP_DELAY_MU
    ) -> None:
        wires = self.wires.setdefault(in_channel, [])
        if not any(w[0] == out_channel and w[1] == int(delay_mu) for w in wires):  # once per cable
            wires.append([out_channel, int(delay_mu), _NEG])

    def input_edges(self, channel: int, t_end_mu: int) -> list[tuple[int, int]]:
        wires = self.wires.get(channel)
        if not wires:
            return []
        out: list[tuple[int, int]] = []
        for w in wires:
            out_ch, d, t_done = w
            if t_end_mu <= t_done:
                continue
            for t, lv in self.view.ttl_levels(
                out_ch, t_done - d if t_done > _NEG else _NEG, t_end_mu - d
            ):
                out.append((t + d, lv))
            w[2] = t_end_mu
        if len(wires) > 1:
            out.sort(key=lambda e: e[0])
        return out

    @property
    def processed_mu(self) -> int:
        """It keeps no state made of outputs (it reads their levels on demand, :attr:`wires`)."""
        return -_NEG

    def quiet_until(self, channel: int, t_need_mu: int) -> int:
        """:meth:`PhysicsWorld.quiet_until <sim.physics.world.PhysicsWorld.quiet_until>`: an
        unwired input never has an edge; a wired one is asked each time."""
        return _NEG if self.wires.get(channel) else -_NEG

    def reset(self) -> None:
        for ws in self.wires.values():
            for w in ws:
                w[2] = _NEG
