# SPDX-License-Identifier: LGPL-3.0-or-later
"""The arguments an experiment declares, read without running it, and checking values against
them before anything runs (``ionlink-sim sweep --arg``).

:func:`declared_arguments` builds the experiment class as ARTIQ's master does when it scans a
repository: with no devices (``setattr_device`` gives ``None``), no datasets (every
``get_dataset`` takes its default) and an argument manager that records each argument's processor
and returns its default. :func:`check_argument_values` then applies the same checks as a run
(:func:`drivers.arguments.argument_problem`, then the processor itself), so a bad value is one
line before the first point instead of a failed point per value.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

from sim.experiment_file import ArgumentError, InputError

__all__ = ["check_argument_values", "declared_arguments"]


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


class _Recorder:
    """Argument manager of a scan: records ``name → processor``, returns the default."""

    def __init__(self) -> None:
        self.processors: dict[str, Any] = {}

    def get(self, key: str, processor: Any, group: Any, tooltip: Any) -> Any:
        # the processor itself, not the recording wrapper of drivers.arguments.CheckedArguments
        self.processors[key] = getattr(processor, "_processor", processor)
        try:
            return processor.default()
        except Exception:  # no default (a required argument): build gets None
            return None

    def get_interactive(self, arglist: list, title: str) -> None:
        return None


def declared_arguments(path: str | os.PathLike, class_name: str | None = None) -> dict[str, Any]:
    """``{name: processor}`` of the arguments the experiment in ``path`` requests in ``build``.

    :raises InputError: the file or class cannot be loaded, or its ``build`` fails without
        devices and datasets."""
    from sim.experiment_file import get_experiment, load_experiment_module

    cls = get_experiment(load_experiment_module(path, prefix="ionlink_scan_"), class_name)
    recorder = _Recorder()
    try:
        cls((_NoDevices(), _NoDatasets(), recorder, {}))
    except Exception as exc:
        raise InputError(
            "cannot read the arguments of {} ({}): {}".format(
                cls.__name__, os.fspath(path), " ".join(str(exc).split()) or type(exc).__name__
            )
        ) from exc
    return recorder.processors


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
