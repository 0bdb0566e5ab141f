# SPDX-License-Identifier: LGPL-3.0-or-later
"""The two heralding paths of remote entanglement, one registry (:data:`PATHS`): the entangler
gateware's loop (``repository/remote_entanglement.py``) and CPU heralding
(``repository/remote_entanglement_cpu.py``, labs without the entangler gateware).

Each path names its experiment file, how that experiment's arguments enter the error budget
(:mod:`sim.budget_arguments`) and the budget that predicts it (:mod:`sim.physics.budget`,
:mod:`sim.physics.cpu_budget`), so that ``ionlink-sim budget``, ``demo`` and ``sweep`` run and
predict the same loop for ``--path``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sim.budget_arguments import COUNTERPARTS, CPU_COUNTERPARTS, Counterpart

__all__ = ["PATHS", "PATH_NAMES", "HeraldingPath", "heralding_path"]

ROOT = Path(__file__).resolve().parents[1]


def _gateware_arguments() -> Any:
    from sim.physics.budget import DEFAULT_ARGUMENTS

    return DEFAULT_ARGUMENTS


def _gateware_dict(lab: Any, mode: str, two_chassis: bool, arguments: Any) -> dict:
    from sim.physics.budget import budget_dict

    return budget_dict(lab, mode, two_chassis, arguments)


def _gateware_text(lab: Any, mode: str, two_chassis: bool, arguments: Any) -> str:
    from sim.physics.budget_lines import format_budget

    return format_budget(lab, mode, two_chassis, arguments)


def _cpu_arguments() -> Any:
    from sim.physics.cpu_budget import CPU_ARGUMENTS

    return CPU_ARGUMENTS


def _cpu_dict(lab: Any, mode: str, two_chassis: bool, arguments: Any) -> dict:
    from sim.physics.cpu_budget import cpu_budget_dict

    return cpu_budget_dict(lab, mode, arguments, two_chassis)


def _cpu_text(lab: Any, mode: str, two_chassis: bool, arguments: Any) -> str:
    from sim.physics.cpu_budget import format_cpu_budget

    return format_cpu_budget(lab, mode, arguments, two_chassis)


@dataclass(frozen=True)
class HeraldingPath:
    """One heralding path (its budget's modules are imported when it is asked for).

    :param name: ``--path``'s value. :param experiment: its experiment file in ``repository/``.
    :param counterparts: how each argument that experiment declares enters the budget.
    :param defaults: the experiment's defaults as the budget's
        :class:`~sim.physics.budget.LoopArguments` (the CPU loop's slack margin on the CPU path).
    :param budget_dict: every figure of the path's budget (``ionlink-sim budget --path NAME
        --json``): ``(lab, mode, two_chassis, arguments)``.
    :param format_budget: the path's budget as ``ionlink-sim budget --path NAME`` prints it,
        with the same arguments.
    """

    name: str
    experiment: str
    counterparts: Mapping[str, Counterpart]
    defaults: Callable[[], Any]
    budget_dict: Callable[[Any, str, bool, Any], dict]
    format_budget: Callable[[Any, str, bool, Any], str]

    @property
    def experiment_file(self) -> Path:
        """The experiment file (absolute)."""
        return ROOT / "repository" / self.experiment

    def loop_arguments(self, **fields: Any) -> Any:
        """The budget's :class:`~sim.physics.budget.LoopArguments`: :attr:`defaults` with
        ``fields``."""
        return replace(self.defaults(), **fields)


PATHS: dict[str, HeraldingPath] = {
    "gateware": HeraldingPath(
        "gateware",
        "remote_entanglement.py",
        COUNTERPARTS,
        _gateware_arguments,
        _gateware_dict,
        _gateware_text,
    ),
    "cpu": HeraldingPath(
        "cpu", "remote_entanglement_cpu.py", CPU_COUNTERPARTS, _cpu_arguments, _cpu_dict, _cpu_text
    ),
}
#: ``--path``'s choices
PATH_NAMES = tuple(PATHS)


def heralding_path(name: str) -> HeraldingPath:
    """The path called ``name`` (``gateware`` or ``cpu``).

    :raises KeyError: another name."""
    return PATHS[name]
