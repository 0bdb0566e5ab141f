# SPDX-License-Identifier: LGPL-3.0-or-later
"""Physics of the two-node ion–photon link: lab description, ions, photons, Bell-state analyser,
readout, the analytic budget and the :class:`PhysicsWorld` the RTIO engine queries.

The names below are loaded on first use (PEP 562): an experiment without a physics world (a
pulse train, the loopback wiring) imports ``sim.physics.view`` only and never pays for scipy."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attempts import CycleModel, CycleSample
    from .budget import Budget, predict
    from .budget_lines import format_budget
    from .cycle_build import nominal_cycle
    from .lab import Lab, LabError, load_lab
    from .view import DDSState, PhyView, World
    from .world import PhysicsWorld

_WHERE = {
    "CycleModel": "attempts",
    "CycleSample": "attempts",
    "nominal_cycle": "cycle_build",
    "Budget": "budget",
    "format_budget": "budget_lines",
    "predict": "budget",
    "Lab": "lab",
    "LabError": "lab",
    "load_lab": "lab",
    "DDSState": "view",
    "PhyView": "view",
    "World": "view",
    "PhysicsWorld": "world",
}

__all__ = [
    "Budget",
    "CycleModel",
    "CycleSample",
    "DDSState",
    "Lab",
    "LabError",
    "PhyView",
    "PhysicsWorld",
    "World",
    "format_budget",
    "load_lab",
    "nominal_cycle",
    "predict",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError("module 'sim.physics' has no attribute {!r}".format(name))
    value = getattr(import_module("." + module, __name__), name)
    globals()[name] = value
    return value
