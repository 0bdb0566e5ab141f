# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim sweep``'s definition: a grid of simulated remote-entanglement sequences, run on
Dask distributed by :mod:`sim.sweep_run` (command line: :mod:`sim.sweep_cli`).

The grid is the product of the swept lab values (``--set KEY=SPEC``), swept experiment arguments
(``--arg NAME=SPEC``) and ``--seeds N`` seeds, in that order (the seeds vary fastest). ``SPEC`` is
``START:STOP:NUM`` (NUM values, both ends included), a list ``A,B,C``, or one value (the same for
every point). Every point is one :class:`~sim.sweep_point.PointSpec` run by
:func:`~sim.sweep_point.run_point` on a Dask worker: a :class:`distributed.LocalCluster` with one
single-threaded process per core by default, or the cluster at ``--scheduler ADDRESS``. Point
``i`` gets the ``i``-th child of ``numpy.random.SeedSequence(--seed).spawn(n_points)``, so the
numbers do not depend on the number of workers or the order in which points finish.

Outputs: each point's results tree in ``<points folder>/point_<index>/`` (ARTIQ's layout) with its
record ``point.json``, and the sweep file (``-o``; :mod:`sim.sweep_file`), rewritten after every
point. A point that fails is recorded with its error and the sweep goes on (exit status 1 at the
end). Running the same command again resumes: points with a record are not run again (failed ones
are); a sweep file or folder made by another definition is refused.

``--path cpu`` runs every point with CPU heralding (``remote_entanglement_cpu.py``: its arguments
for ``--arg``, the CPU loop's budget; :mod:`sim.heralding_path`). ``--device-db`` runs every point
on another device database: ``device_db_drtio.py`` puts node B on a DRTIO satellite, and the lab's
``[drtio]`` keys (``--set drtio.fibre_m=…``) can then be swept; each point's budget is then the
two-chassis one.

Each point's budget is that of its lab and its experiment arguments (:mod:`sim.budget_arguments`:
``cooling_time`` is the lab's ``loop.cool_s``, ``slack_margin`` the budget's margin, …). An
argument the budget does not model (``check_every``, the pulse timing) leaves the points without
a budget (NaN, and a note), and ``--budget-only`` over one is refused. ``--arg mode=…`` and
``--arg heralds_per_setting=…`` are ``--mode`` and ``--heralds`` (they can be swept); both for the
same argument is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.experiment_file import InputError
from sim.heralding_path import heralding_path
from sim.sweep_point import PointSpec

__all__ = ["Axis", "SweepDefinition", "definition_from_args", "parse_spec"]

ARG_PREFIX = "arg."
#: experiment arguments that ``sweep`` options also set: argument → (option, default)
_OPTION_ARGUMENTS = {"mode": ("--mode", "parity"), "heralds_per_setting": ("--heralds", 60)}


@dataclass(frozen=True)
class Axis:
    """A swept parameter: its dotted key (``arg.NAME`` for an experiment argument) and values."""

    key: str
    values: tuple[Any, ...]


def _value(text: str) -> Any:
    from sim.physics.lab_overrides import parse_override

    return parse_override("v=" + text).value


def parse_spec(text: str) -> tuple[str, tuple[Any, ...]]:
    """``KEY=START:STOP:NUM`` | ``KEY=A,B,C`` | ``KEY=VALUE`` → ``(key, values)``.

    :raises InputError: no ``=``, or a range that is not ``START:STOP:NUM`` with NUM ≥ 1.
    """
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise InputError(
            "sweep value {!r}: expected KEY=START:STOP:NUM, KEY=A,B,C or KEY=V".format(text)
        )
    spec = spec.strip()
    if ":" in spec and not spec.startswith(('"', "'")):
        parts = spec.split(":")
        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if len(parts) != 3 or num < 1:
                raise ValueError
        except (ValueError, IndexError):
            raise InputError(
                "{}: range {!r} must be START:STOP:NUM with NUM ≥ 1".format(key, spec)
            ) from None
        values = tuple(float(round(v, 12)) for v in np.linspace(start, stop, num))
        return key, values
    return key, tuple(_value(item.strip()) for item in spec.split(","))


@dataclass(frozen=True)
class SweepDefinition:
    """What a sweep computes (not where or how fast): everything that decides its numbers."""

    lab: str
    fixed: tuple[str, ...]  # KEY=VALUE lab overrides common to every point
    arguments: tuple[tuple[str, Any], ...]  # fixed experiment arguments
    axes: tuple[Axis, ...]
    seeds: int
    seed: int
    heralds: int
    mode: str
    budget_only: bool
    calibration: str
    readout_shots: int
    photon_attempts: int
    device_db: str | None = None  # absolute path; None: the repository's device_db.py
    path: str = "gateware"  # the heralding path (sim.heralding_path.PATHS)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (also what identifies the sweep when resuming)."""
        return {
            "lab": self.lab,
            "fixed": list(self.fixed),
            "arguments": dict(self.arguments),
            "axes": [{"key": a.key, "values": list(a.values)} for a in self.axes],
            "parameters": [a.key for a in self.axes],
            "seeds": self.seeds,
            "seed": self.seed,
            "heralds": self.heralds,
            "mode": self.mode,
            "budget_only": self.budget_only,
            "calibration": self.calibration,
            "readout_shots": self.readout_shots,
            "photon_attempts": self.photon_attempts,
            # only when given: sweeps on the default database keep their fingerprint (resume)
            **({"device_db": self.device_db} if self.device_db is not None else {}),
            **({"path": self.path} if self.path != "gateware" else {}),
        }

    def fingerprint(self) -> str:
        """SHA-256 of :meth:`to_json` (16 hex digits)."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    def points(self, folder: Path) -> list[PointSpec]:
        """Every point, in sweep order, with its seed (see the module docstring)."""
        combos = list(itertools.product(*(a.values for a in self.axes)))
        n = len(combos) * self.seeds
        children = np.random.SeedSequence(self.seed).spawn(n)
        out = []
        for i, (combo, seed_index) in enumerate(itertools.product(combos, range(self.seeds))):
            parameters = {a.key: v for a, v in zip(self.axes, combo)}
            overrides = list(self.fixed)
            arguments = dict(self.arguments)
            for key, value in parameters.items():
                if key.startswith(ARG_PREFIX):
                    arguments[key[len(ARG_PREFIX) :]] = value
                else:
                    overrides.append("{}={}".format(key, json.dumps(value)))
            seed = int(children[i].generate_state(1, np.uint64)[0] >> np.uint64(1))
            out.append(
                PointSpec(
                    index=i,
                    parameters=parameters,
                    lab=self.lab,
                    overrides=tuple(overrides),
                    arguments=arguments,
                    seed_index=seed_index,
                    seed=seed,
                    folder=str(folder / "point_{:05d}".format(i)),
                    heralds=self.heralds,
                    mode=self.mode,
                    budget_only=self.budget_only,
                    calibration=self.calibration,
                    readout_shots=self.readout_shots,
                    photon_attempts=self.photon_attempts,
                    device_db=self.device_db,
                    path=self.path,
                )
            )
        return out

    def argument_values(self) -> list[tuple[str, Any]]:
        """Every experiment-argument value of the sweep, fixed and swept: ``(name, value)``."""
        return list(self.arguments) + [
            (axis.key[len(ARG_PREFIX) :], value)
            for axis in self.axes
            if axis.key.startswith(ARG_PREFIX)
            for value in axis.values
        ]

    def unmodelled_arguments(self) -> list[str]:
        """The experiment arguments given that the budget does not model (no budget then)."""
        from sim.budget_arguments import unmodelled
        from sim.heralding_path import heralding_path

        return unmodelled(
            dict.fromkeys(name for name, _ in self.argument_values()),
            heralding_path(self.path).counterparts,
        )

    def check(self) -> None:
        """Load the lab with every swept value (each alone, with the fixed ones) and check every
        experiment-argument value against the declared arguments of the heralding path's
        remote-entanglement experiment, and the lab of the budget with each argument it follows: a
        bad key or value is an :class:`InputError` before anything runs, as is ``budget_only`` with
        an argument the budget does not model."""
        from sim.budget_arguments import budget_inputs, unmodelled_note
        from sim.experiment_arguments import check_argument_values, declared_arguments
        from sim.heralding_path import heralding_path
        from sim.lab_resolution import resolve_lab

        path = heralding_path(self.path)
        values = self.argument_values()
        # mode and heralds too: a fixed --arg for them is folded into them
        check_argument_values(
            declared_arguments(path.experiment_file),
            [("mode", self.mode), ("heralds_per_setting", self.heralds), *values],
            "remote-entanglement experiment ({}, --path {})".format(path.experiment, path.name),
        )
        unmodelled = self.unmodelled_arguments()
        if self.budget_only and unmodelled:
            raise InputError(
                "--budget-only: {}; run the sweep without --budget-only".format(
                    unmodelled_note(unmodelled, path.counterparts)
                )
            )

        resolve_lab(self.lab, None, self.fixed)
        for axis in self.axes:
            if axis.key.startswith(ARG_PREFIX):
                continue
            for value in axis.values:
                resolve_lab(
                    self.lab, None, (*self.fixed, "{}={}".format(axis.key, json.dumps(value)))
                )
        if not unmodelled:  # the budget's lab with each argument it takes as a lab key
            for name, value in values:
                overrides = budget_inputs({name: value}, counterparts=path.counterparts).overrides
                try:
                    if overrides:
                        resolve_lab(self.lab, None, (*self.fixed, *overrides))
                except InputError as exc:
                    raise InputError(
                        "argument '{}' = {!r} is the budget's {}: {}".format(
                            name, value, overrides[0].partition("=")[0], exc
                        )
                    ) from None


def definition_from_args(args: argparse.Namespace) -> SweepDefinition:
    """The :class:`SweepDefinition` of ``ionlink-sim sweep`` arguments (checked)."""
    if args.seeds < 1:
        raise InputError("--seeds must be at least 1")
    device_db = None
    if args.device_db is not None:
        path = Path(args.device_db).resolve()
        if not path.is_file():
            raise InputError("--device-db {}: no such file".format(args.device_db))
        device_db = str(path)
    from sim.topology import check_link_overrides

    check_link_overrides(
        args.lab_set,
        device_db,
        "a sweep without --device-db (the points run device_db.py)" if device_db is None else "",
    )
    fixed: list[str] = []
    axes: list[Axis] = []
    arguments: list[tuple[str, Any]] = []
    seen: set[str] = set()
    options = {"mode": args.mode, "heralds_per_setting": args.heralds}
    counterparts = heralding_path(args.path).counterparts
    lab_keys = {parse_spec(text)[0] for text in args.lab_set}
    for text, is_arg in [(t, False) for t in args.lab_set] + [(t, True) for t in args.arg]:
        key, values = parse_spec(text)
        name = ARG_PREFIX + key if is_arg else key
        if name in seen:
            raise InputError("{} is given twice".format(name))
        seen.add(name)
        if is_arg and key in _OPTION_ARGUMENTS and options[key] is not None:
            option = _OPTION_ARGUMENTS[key][0]
            raise InputError(
                "--arg {} and {} both set the experiment's '{}': give one".format(key, option, key)
            )
        if is_arg and key in counterparts and counterparts[key].lab_key in lab_keys:
            raise InputError(
                "--arg {} and --set {} set the same value of the loop: give one".format(
                    key, counterparts[key].lab_key
                )
            )
        if len(values) > 1:
            axes.append(Axis(name, values))
        elif is_arg and key in _OPTION_ARGUMENTS:
            options[key] = values[0]  # the same as the option (checked below as an argument)
        elif is_arg:
            arguments.append((key, values[0]))
        else:
            fixed.append("{}={}".format(key, json.dumps(values[0])))
    if args.heralds is not None and args.heralds < 1:
        raise InputError("--heralds must be at least 1")
    for key, (_, default) in _OPTION_ARGUMENTS.items():
        if options[key] is None:
            options[key] = default
    definition = SweepDefinition(
        lab=args.lab,
        fixed=tuple(fixed),
        arguments=tuple(arguments),
        axes=tuple(axes),
        seeds=args.seeds,
        seed=args.seed,
        heralds=options["heralds_per_setting"],
        mode=options["mode"],
        budget_only=args.budget_only,
        calibration=args.calibration,
        readout_shots=args.readout_shots,
        photon_attempts=args.photon_attempts,
        device_db=device_db,
        path=args.path,
    )
    definition.check()
    return definition
