# SPDX-License-Identifier: LGPL-3.0-or-later
"""Physics of the two-node ion–photon link: lab description, ions, photons, Bell-state analyser,
readout, the analytic budget and the :class:`PhysicsWorld` the RTIO engine queries."""

from .attempts import CycleModel, CycleSample, nominal_cycle
from .budget import Budget, format_budget, predict
from .lab import Lab, LabError, load_lab
from .view import DDSState, PhyView, World
from .world import PhysicsWorld

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
