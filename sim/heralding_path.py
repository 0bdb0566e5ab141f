# SPDX-License-Identifier: LGPL-3.0-or-later
"""The two heralding paths of remote entanglement, one registry (:data:`PATHS`): the entangler
gateware's loop (``repository/remote_entanglement.py``) and CPU heralding
(``repository/remote_entanglement_cpu.py``, labs without the entangler gateware).

Each path names its experiment file, how that experiment's arguments enter the error budget
(:mod:`sim.budget_arguments`) and the budget that predicts it (:mod:`sim.physics.budget`,
:mod:`sim.physics.cpu_budget`), so that ``ionlink-sim budget``, ``demo`` and ``sweep`` run and
predict the same loop for ``--path``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sim.budget_arguments import COUNTERPARTS, CPU_COUNTERPARTS, Counterpart

__all__ = ["PATHS", "PATH_NAMES", "HeraldingPath", "heralding_path"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class HeraldingPath:
    """One heralding path.

    :param name: ``--path``'s value. :param experiment: its experiment file in ``repository/``.
    :param counterparts: how each argument that experiment declares enters the budget.
    """

    name: str
    experiment: str
    counterparts: Mapping[str, Counterpart]

    @property
    def experiment_file(self) -> Path:
        """The experiment file (absolute)."""
        return ROOT / "repository" / self.experiment

    def loop_arguments(self, **fields: Any) -> Any:
        """The budget's :class:`~sim.physics.budget.LoopArguments`: the experiment's defaults
        (the CPU loop's slack margin on the CPU path) with ``fields``."""
        from sim.physics.budget import DEFAULT_ARGUMENTS
        from sim.physics.cpu_budget import CPU_ARGUMENTS

        return replace(CPU_ARGUMENTS if self.name == "cpu" else DEFAULT_ARGUMENTS, **fields)

    def budget_dict(self, lab: Any, mode: str, two_chassis: bool, arguments: Any) -> dict:
        """Every figure of the path's budget (``ionlink-sim budget --path NAME --json``)."""
        if self.name == "cpu":
            from sim.physics.cpu_budget import cpu_budget_dict

            return cpu_budget_dict(lab, mode, arguments, two_chassis)
        from sim.physics.budget import budget_dict

        return budget_dict(lab, mode, two_chassis, arguments)

    def format_budget(self, lab: Any, mode: str, two_chassis: bool, arguments: Any) -> str:
        """The path's budget as ``ionlink-sim budget --path NAME`` prints it."""
        if self.name == "cpu":
            from sim.physics.cpu_budget import format_cpu_budget

            return format_cpu_budget(lab, mode, arguments, two_chassis)
        from sim.physics.budget_lines import format_budget

        return format_budget(lab, mode, two_chassis, arguments)


PATHS: dict[str, HeraldingPath] = {
    "gateware": HeraldingPath("gateware", "remote_entanglement.py", COUNTERPARTS),
    "cpu": HeraldingPath("cpu", "remote_entanglement_cpu.py", CPU_COUNTERPARTS),
}
#: ``--path``'s choices
PATH_NAMES = tuple(PATHS)


def heralding_path(name: str) -> HeraldingPath:
    """The path called ``name`` (``gateware`` or ``cpu``).

    :raises KeyError: another name."""
    return PATHS[name]
