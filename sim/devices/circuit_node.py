# SPDX-License-Identifier: LGPL-3.0-or-later
"""``drivers.circuit_node.CircuitNode`` for the simulator: the same driver, created only when the
simulated lab has memory ions and entangling gates for it to drive.

A lab without them (``oxford2020``: one network ion per node) would play the memory pulses into
nothing and an experiment composing them (``repository/remote_gate.py``) would report a
meaningless result with exit 0: the device is refused instead, when the experiment requests it
(in ``build``, before anything runs), with one line naming the lab (a bad input: exit 2).
"""

from __future__ import annotations

from typing import Any

from drivers import circuit_node as _driver
from sim.device_manager import DeviceError

__all__ = ["CircuitNode", "check_lab_has_memory_ions"]


def check_lab_has_memory_ions(lab: Any) -> None:
    """:raises DeviceError: ``lab`` (a ``sim.physics.lab.Lab``) has no memory ion, or no
    entangling gate, in some node."""
    lacking = [n.name for n in lab.nodes if n.memory is None or n.gate is None]
    if not lacking:
        return
    what = (
        "no memory ions"
        if all(n.memory is None for n in lab.nodes)
        else "no memory ion and entangling gate in node " + ", ".join(lacking)
    )
    raise DeviceError(
        f"lab {lab.name} has {what}: the remote gate needs a memory ion and an entangling "
        "gate beside each network ion ([[nodes.X.ions]] and [nodes.X.gate] in the lab "
        "description; the preset oxford2025 has them)"
    )


class CircuitNode(_driver.CircuitNode):
    """:class:`drivers.circuit_node.CircuitNode`, checked against the simulated lab."""

    def __init__(self, dmgr: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(dmgr, *args, **kwargs)
        session = getattr(self.core, "session", None)
        world = getattr(session, "world", None)
        if world is not None:
            check_lab_has_memory_ions(world.lab)
