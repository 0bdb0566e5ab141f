# SPDX-License-Identifier: LGPL-3.0-or-later
"""The arguments an experiment declares, read without running it, and checking values against
them before anything runs (``ionlink-sim sweep --arg``, the simulated master's experiment list).

:func:`trace_build` builds an experiment class without running it, as ARTIQ's master does when it
scans a repository: with an argument manager that records each argument (processor, group,
tooltip) and the scheduler defaults; by default with no devices (``setattr_device`` gives
``None``), no datasets (every ``get_dataset`` takes its default) and each argument's default as
its value. :func:`declared_arguments` gives the processors of an experiment file;
:func:`check_argument_values` then applies the same checks as a run
(:func:`drivers.arguments.argument_problem`, then the processor itself), so a bad value is one
line before the first point instead of a failed point per value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sim.experiment_file import ArgumentError, InputError

__all__ = [
    "BuildTrace",
    "RequestedArgument",
    "check_argument_values",
    "declared_arguments",
    "trace_build",
]


class _NoDevices:
    """Device manager of a scan: every device is ``None`` (``build`` only stores it)."""

    def get(self, name: str) -> None:
        return None

    def get_device_db(self) -> dict:
        return {}


class _NoDatasets:
    """Dataset manager of a scan: nothing is stored, so every read takes its default."""

    def get(self, key: str, archive: bool = False) -> Any:
        raise KeyError(key)

    def get_metadata(self, key: str) -> Any:
        raise KeyError(key)


@dataclass(frozen=True)
class RequestedArgument:
    """One argument ``build`` requested: its processor (unwrapped from
    :class:`drivers.arguments.CheckedArguments`' recorder), group and tooltip."""

    processor: Any
    group: str | None
    tooltip: str | None


@dataclass(frozen=True)
class BuildTrace:
    """What building an experiment class without running it tells: the arguments it requests,
    in order, and the scheduler defaults it sets (``set_default_scheduling``)."""

    arguments: dict[str, RequestedArgument]
    scheduler_defaults: dict


class _Recorder:
    """Argument manager of a scan: records each requested argument and gives ``build`` the
    processor's default (``defaults``) or ``None`` (as ARTIQ's master's repository scan)."""

    def __init__(self, defaults: bool) -> None:
        self.defaults = defaults
        self.arguments: dict[str, RequestedArgument] = {}

    def get(self, key: str, processor: Any, group: Any, tooltip: Any) -> Any:
        # the processor itself, not the recording wrapper of drivers.arguments.CheckedArguments
        self.arguments[key] = RequestedArgument(
            getattr(processor, "_processor", processor), group, tooltip
        )
        if not self.defaults:
            return None
        try:
            return processor.default()
        except Exception:  # no default (a required argument): build gets None
            return None

    def get_interactive(self, arglist: list, title: str) -> None:
        return None


def trace_build(
    cls: type, device_mgr: Any = None, dataset_mgr: Any = None, *, defaults: bool = True
) -> BuildTrace:
    """Build ``cls`` with ``device_mgr`` and ``dataset_mgr`` (default: no devices, no datasets)
    and an argument manager that records; exceptions of ``build`` propagate."""
    recorder = _Recorder(defaults)
    scheduler_defaults: dict = {}
    cls(
        (
            _NoDevices() if device_mgr is None else device_mgr,
            _NoDatasets() if dataset_mgr is None else dataset_mgr,
            recorder,
            scheduler_defaults,
        )
    )
    return BuildTrace(recorder.arguments, scheduler_defaults)


def declared_arguments(path: str | os.PathLike, class_name: str | None = None) -> dict[str, Any]:
    """``{name: processor}`` of the arguments the experiment in ``path`` requests in ``build``.

    :raises InputError: the file or class cannot be loaded, or its ``build`` fails without
        devices and datasets."""
    from sim.experiment_file import get_experiment, load_experiment_module

    cls = get_experiment(load_experiment_module(path, prefix="ionlink_scan_"), class_name)
    try:
        trace = trace_build(cls)
    except Exception as exc:
        raise InputError(
            "cannot read the arguments of {} ({}): {}".format(
                cls.__name__, os.fspath(path), " ".join(str(exc).split()) or type(exc).__name__
            )
        ) from exc
    return {name: argument.processor for name, argument in trace.arguments.items()}


def check_argument_values(
    processors: Mapping[str, Any], values: Iterable[tuple[str, Any]], what: str = "experiment"
) -> None:
    """Check each ``(name, value)`` against the declared ``processors`` as a run would.

    :raises ArgumentError: an unknown name, or a value of the wrong type or out of range (one
        line naming the argument and what is allowed)."""
    from drivers.arguments import argument_problem

    for name, value in values:
        processor = processors.get(name)
        if processor is None:
            raise ArgumentError(
                "the {} has no argument '{}' (its arguments: {})".format(
                    what, name, ", ".join(sorted(processors)) or "none"
                )
            )
        problem = argument_problem(processor, value)
        if problem is None:
            try:
                processor.process(value)
            except Exception as exc:
                problem = "is not allowed: {}".format(exc or type(exc).__name__)
        if problem is not None:
            raise ArgumentError("argument '{}' = {!r} {}".format(name, value, problem))
