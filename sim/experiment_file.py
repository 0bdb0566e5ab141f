# SPDX-License-Identifier: LGPL-3.0-or-later
"""An experiment file as ``artiq_run`` takes it: ``KEY=VALUE`` arguments in PYON, the file
imported as a fresh module, the experiment class selected (same error texts), and the argument
manager that hands the arguments to ``build()`` with one-line errors naming the argument.
"""

from __future__ import annotations

import logging
import os
import pathlib
from typing import Any, Callable

from comms import pyon
from sim import artiq_env
from sim.fileimport import import_file
from sim.path_hint import relative_path_hint

__all__ = [
    "InputError",
    "ArgumentError",
    "UnknownArgument",
    "parse_arguments",
    "check_experiment_file",
    "load_experiment_module",
    "get_experiment",
    "argument_manager_class",
]

logger = logging.getLogger("sim.runner")


class InputError(Exception):
    """Bad input: experiment file, class selection, arguments, device database, lab."""


class ArgumentError(InputError, ValueError):
    """A supplied argument is invalid or a required one is missing."""


class UnknownArgument(InputError, AttributeError):
    """A supplied argument the experiment does not take (an ``AttributeError`` as ARTIQ's)."""


# ---------------------------------------------------------------------------------------------
# helpers shared with the CLI


def parse_arguments(arguments: list[str]) -> dict:
    """Parse ``KEY=VALUE`` strings; values are PYON (v2, falling back to v1)."""
    result = {}
    for argument in arguments:
        name, eq, value = argument.partition("=")
        if not eq or not name:
            raise ArgumentError("argument {!r} is not of the form KEY=VALUE".format(argument))
        try:
            result[name] = pyon.decode(value)
        except Exception as exc:
            hint = (
                " (a string needs its own quotes: {}='\"{}\"')".format(name, value)
                if value.isidentifier()
                else ""
            )
            raise ArgumentError(
                "cannot parse value of argument '{}' as PYON: {!r}{}".format(name, value, hint)
            ) from exc
    return result


def check_experiment_file(path: str | os.PathLike) -> None:
    """:raises InputError: ``path`` is not a file (missing, or a folder), said in one line (a
    missing relative path with the folder it was looked for in, :mod:`sim.path_hint`)."""
    if os.path.isdir(path):
        raise InputError(
            "'{}' is a folder: give an experiment file (.py) in it".format(os.fspath(path))
        )
    if not os.path.isfile(path):
        raise InputError(
            "experiment file '{}' not found{}".format(os.fspath(path), relative_path_hint(path))
        )


def load_experiment_module(path: str | os.PathLike, prefix: str = "artiq_run_") -> Any:
    """Import an experiment file as a fresh module (its directory is on ``sys.path`` meanwhile;
    ``import artiq`` works, :func:`sim.artiq_env.activate`)."""
    artiq_env.activate()
    path = pathlib.Path(path)
    check_experiment_file(path)
    try:
        module = import_file(path, prefix + path.stem)
    except Exception as exc:
        raise InputError(
            "cannot load experiment file '{}': {}: {}".format(path, type(exc).__name__, exc)
        ) from exc
    return module


def get_experiment(module: Any, class_name: str | None = None) -> type:
    """Select the experiment class as ``artiq_run`` does (same error texts)."""
    from artiq.language.environment import is_public_experiment

    exps = [(name, obj) for name, obj in sorted(vars(module).items()) if is_public_experiment(obj)]
    if class_name:
        obj = module
        try:
            for name in class_name.split("."):
                obj = getattr(obj, name)
        except AttributeError:
            raise InputError(
                "experiment file '{}' has no class '{}' (experiments in it: {})".format(
                    getattr(module, "__file__", "?"),
                    class_name,
                    ", ".join(name for name, _ in exps) or "none",
                )
            ) from None
        return obj
    if not exps:
        raise InputError("No experiments in module")
    if len(exps) > 1:
        raise InputError(
            "More than one experiment found in module: " + ", ".join(name for name, _ in exps)
        )
    return exps[0][1]


# ---------------------------------------------------------------------------------------------
# argument manager


def _prompt_arguments(
    interactive_input: Callable[[str], str], arglist: list, title: str
) -> dict | None:
    """Interactive arguments typed at the console (PYON, asked again until valid); ``None`` at
    end of input."""
    print(title)
    result = {}
    for key, processor, group, tooltip in arglist:
        while True:
            try:
                text = interactive_input(
                    "{}:{} (group={}, tooltip={}): ".format(
                        key, type(processor).__name__, group, tooltip
                    )
                )
            except EOFError:
                return None
            try:
                result[key] = processor.process(pyon.decode(text))
                break
            except Exception:
                logger.error("failed to process user input, retrying", exc_info=True)
    return result


def argument_manager_class() -> type:
    from artiq.language.environment import DefaultMissing

    from drivers.arguments import argument_problem

    class MissingArgument(ArgumentError, DefaultMissing):
        """A required argument (no default) was not supplied."""

    class SimArgumentManager:
        """ARTIQ's ``ProcessArgumentManager`` with one-line errors naming the argument.

        Interactive arguments are asked for with ``ask_arguments(arglist_desc, title)``
        (``[(key, processor.describe(), group, tooltip)]`` → unprocessed values, ``None`` if
        cancelled; the simulated master's) if given, else prompted with ``interactive_input``."""

        def __init__(
            self,
            unprocessed: dict,
            interactive_input: Callable[[str], str] | None,
            ask_arguments: Callable[[list, str], dict | None] | None = None,
        ):
            self.unprocessed_arguments = unprocessed
            self._processed: set = set()
            self._asked: list[str] = []  # every argument the experiment queried, in order
            self._input = interactive_input
            self._ask = ask_arguments

        @staticmethod
        def _process(key: str, processor: Any, raw: Any) -> Any:
            try:
                return processor.process(raw)
            except Exception as exc:
                problem = argument_problem(processor, raw) or "is not allowed: {}".format(
                    exc or type(exc).__name__
                )
                raise ArgumentError("argument '{}' = {!r} {}".format(key, raw, problem)) from exc

        def get(self, key: str, processor: Any, group: Any, tooltip: Any) -> Any:
            self._asked.append(key)
            if key in self.unprocessed_arguments:
                value = self._process(key, processor, self.unprocessed_arguments[key])
                self._processed.add(key)
                return value
            try:
                return processor.default()
            except DefaultMissing:
                raise MissingArgument(
                    "argument '{}' is required (it has no default)".format(key)
                ) from None

        def check_unprocessed_arguments(self) -> None:
            unprocessed = set(self.unprocessed_arguments) - self._processed
            if unprocessed:
                known = ", ".join(dict.fromkeys(self._asked)) or "none"
                raise UnknownArgument(
                    "the experiment takes no argument {} (its arguments: {})".format(
                        ", ".join(repr(k) for k in sorted(unprocessed)), known
                    )
                )

        def get_interactive(self, arglist: list, title: str) -> dict | None:
            if self._ask is not None:
                desc = [(k, p.describe(), g, t) for k, p, g, t in arglist]
                values = self._ask(desc, title)
                if values is None:
                    return None
                return {k: self._process(k, p, values[k]) for k, p, _, _ in arglist}
            if self._input is None:
                return None
            return _prompt_arguments(self._input, arglist, title)

    return SimArgumentManager
