# SPDX-License-Identifier: LGPL-3.0-or-later
"""Lab overrides from the command line: ``--set KEY=VALUE`` with dotted lab-description keys.

``KEY`` names a value of the lab's TOML document by its path: ``bsa.mode_overlap``,
``nodes.a.optics.collection_efficiency``, ``bsa.detectors[2].efficiency``, ``loop.cool_s``. ``*``
stands for every node or every detector (``nodes.*.t2_s``, ``bsa.detectors[*].dark_rate_hz``).
``VALUE`` is a TOML value (``0.95``, ``1e-6``, ``true``, ``"exponential"``); a word that is not
one is taken as a string (``nodes.a.dephasing=exponential``). The overridden document goes through
the same loader and checks as the file (:func:`sim.physics.lab.lab_from_dict`), so an unknown key
or a non-physical value is the same one-line :class:`~sim.physics.lab_model.LabError`.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sim.physics.lab_model import LabError

__all__ = ["LabOverride", "apply_overrides", "format_overrides", "parse_override"]

_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*|\*)(?:\[(\d+|\*)\])?$")


@dataclass(frozen=True)
class LabOverride:
    """One ``--set KEY=VALUE``: the dotted key and the value parsed from TOML."""

    key: str
    value: Any

    def __str__(self) -> str:
        return "{}={}".format(self.key, json.dumps(self.value))


def parse_override(text: str) -> LabOverride:
    """Parse ``KEY=VALUE``.

    :raises LabError: no ``=``, or a key that is not a dotted path of names.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise LabError(f"--set {text!r}: expected KEY=VALUE (e.g. bsa.mode_overlap=0.95)")
    for part in key.split("."):
        if not _PART.match(part):
            raise LabError(f"--set {key}: {part!r} is not a key name (use dotted names, [i])")
    return LabOverride(key, _value(raw.strip()))


def _value(raw: str) -> Any:
    """A TOML value, else the text itself as a string."""
    try:
        return tomllib.loads("v = " + raw)["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _steps(key: str) -> list[str | int]:
    """``nodes.a.x[2].y`` → ``["nodes", "a", "x", 2, "y"]`` (``"*"`` kept)."""
    steps: list[str | int] = []
    for part in key.split("."):
        match = _PART.match(part)
        assert match is not None  # checked by parse_override
        steps.append(match.group(1))
        if match.group(2) is not None:
            index = match.group(2)
            steps.append(index if index == "*" else int(index))
    return steps


def _assign(node: Any, steps: list[str | int], value: Any, key: str, done: str) -> None:
    step, rest = steps[0], steps[1:]
    here = f"{done}.{step}" if done else str(step)
    if isinstance(step, int) or (step == "*" and isinstance(node, list)):
        if not isinstance(node, list):
            raise LabError(f"--set {key}: {done} is not a list")
        targets = range(len(node)) if isinstance(step, str) else [step]
        for i in targets:
            if not 0 <= i < len(node):
                raise LabError(f"--set {key}: {done} has {len(node)} entries, no [{i}]")
            if rest:
                _assign(node[i], rest, value, key, f"{done}[{i}]")
            else:
                node[i] = value
        return
    if not isinstance(node, dict):
        raise LabError(f"--set {key}: {done} is a value, not a table")
    names = sorted(node) if step == "*" else [step]
    if not names:
        raise LabError(f"--set {key}: {done} is empty")
    for name in names:
        if not rest:
            if isinstance(node.get(name), (dict, list)):
                raise LabError(f"--set {key}: {here} is a table, not a value")
            node[name] = value
            continue
        if name not in node:  # a table left out of the file: the loader checks its name
            node[name] = [] if isinstance(rest[0], int) else {}
        _assign(node[name], rest, value, key, f"{done}.{name}" if done else name)


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[LabOverride]) -> dict[str, Any]:
    """A copy of the parsed TOML document ``data`` with ``overrides`` applied in order (a key
    the file leaves out is added: the loader then takes it or rejects it as unknown).

    :raises LabError: a key that walks through a value, or an index out of range.
    """
    result = copy.deepcopy(dict(data))
    for override in overrides:
        _assign(result, _steps(override.key), override.value, override.key, "")
    return result


def format_overrides(overrides: Iterable[LabOverride]) -> str:
    """The overrides as one JSON object ``{"key": value}`` (``""`` when there are none), as
    recorded in the results files' provenance."""
    items = {o.key: o.value for o in overrides}
    return json.dumps(items, sort_keys=False) if items else ""
