# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim sweep``: a grid of simulated remote-entanglement sequences on Dask distributed.

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

``--device-db`` runs every point on another device database: ``device_db_drtio.py`` puts node B on a
DRTIO satellite, and the lab's ``[drtio]`` keys (``--set drtio.fibre_m=…``) can then be swept;
each point's budget is then the two-chassis one.

Each point's budget is that of its lab and its experiment arguments (:mod:`sim.budget_arguments`:
``cooling_time`` is the lab's ``loop.cool_s``, ``slack_margin`` the budget's margin, …). An
argument the budget does not model (``check_every``, the pulse timing) leaves the points without
a budget (NaN, and a note), and ``--budget-only`` over one is refused. ``--arg mode=…`` and
``--arg heralds_per_setting=…`` are ``--mode`` and ``--heralds`` (they can be swept); both for the
same argument is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.budget_arguments import COUNTERPARTS
from sim.experiment_file import InputError
from sim.presets import LAB_HELP
from sim.seed import seed_arg
from sim.sweep_point import PointRecord, PointSpec, run_point

__all__ = ["Axis", "SweepDefinition", "add_parser", "cmd_sweep", "parse_spec", "run_sweep"]

logger = logging.getLogger(__name__)
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

        return unmodelled(dict.fromkeys(name for name, _ in self.argument_values()))

    def check(self) -> None:
        """Load the lab with every swept value (each alone, with the fixed ones) and check every
        experiment-argument value against the remote-entanglement experiment's declared
        arguments, and the lab of the budget with each argument it follows: a bad key or value
        is an :class:`InputError` before anything runs, as is ``budget_only`` with an argument
        the budget does not model."""
        from sim.budget_arguments import budget_inputs, unmodelled_note
        from sim.experiment_arguments import check_argument_values, declared_arguments
        from sim.runner import resolve_lab
        from sim.sweep_point import EXPERIMENT

        values = self.argument_values()
        # mode and heralds too: a fixed --arg for them is folded into them
        check_argument_values(
            declared_arguments(EXPERIMENT),
            [("mode", self.mode), ("heralds_per_setting", self.heralds), *values],
            "remote-entanglement experiment",
        )
        unmodelled = self.unmodelled_arguments()
        if self.budget_only and unmodelled:
            raise InputError(
                "--budget-only: {}; run the sweep without --budget-only".format(
                    unmodelled_note(unmodelled)
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
                overrides = budget_inputs({name: value}).overrides
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
        if is_arg and key in COUNTERPARTS and COUNTERPARTS[key].lab_key in lab_keys:
            raise InputError(
                "--arg {} and --set {} set the same value of the loop: give one".format(
                    key, COUNTERPARTS[key].lab_key
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
    )
    definition.check()
    return definition


# ------------------------------------------------------------------------------------------------
# running


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """A Dask client of the cluster at ``scheduler``, or of a new local cluster (one process per
    core, one thread each); returns ``(client, cluster or None)``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of ionlink
        raise InputError(
            "ionlink-sim sweep needs dask[distributed] (pip install 'dask[distributed]')"
        ) from exc
    if scheduler:
        try:
            return Client(scheduler, timeout=10), None
        except (OSError, TimeoutError) as exc:
            raise InputError(
                "cannot reach the Dask scheduler at {}: {}".format(scheduler, exc)
            ) from exc
    n = workers or os.cpu_count() or 1
    if not logger.isEnabledFor(logging.INFO):  # Dask's own start-up chatter
        for name in ("distributed", "dask"):
            logging.getLogger(name).setLevel(logging.WARNING)
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
    )
    return Client(cluster), cluster


def _kill_workers(cluster: Any) -> None:
    """Kill the worker processes of our local ``cluster`` (Ctrl-C, SIGTERM): a point runs in a
    worker's thread, which nothing interrupts, and a graceful close waits 4 s for it before
    killing (with a warning per worker). Their nannies are told first not to restart them."""
    import signal

    for nanny in list(cluster.workers.values()):
        pid = nanny.pid
        nanny.close_gracefully(reason="ionlink-sim sweep interrupted")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))  # (Windows: none)


def _address(client: Any) -> str:
    """The address of ``client``'s scheduler."""
    return str(client.scheduler.address)


def _cancel_unfinished(client: Any, futures: list[Any], stop: BaseException) -> None:
    """Cancel this sweep's points not finished yet on the scheduler of ``client`` (a sweep
    stopped by a signal), before the client closes: the pending ones never start, and the
    running ones are released (their results dropped). The stop line (``stop``'s note) says how
    many."""
    unfinished = [f for f in futures if not f.done()]
    if not unfinished:
        return
    points = "{} unfinished point{}".format(len(unfinished), "" if len(unfinished) == 1 else "s")
    try:
        client.cancel(unfinished)
    except Exception as exc:  # the scheduler gone: closing the client is all there is to do
        stop.add_note("{} not cancelled: {}: {}".format(points, type(exc).__name__, exc))
        return
    stop.add_note("{} cancelled on the Dask scheduler at {}".format(points, _address(client)))


def _load_done(folder: Path, fingerprint: str) -> dict[int, PointRecord]:
    """Records of finished points in ``folder`` (failed ones are run again)."""
    marker = folder / "sweep.json"
    if marker.exists():
        stored = json.loads(marker.read_text()).get("fingerprint")
        if stored != fingerprint:
            raise InputError(
                "{} holds another sweep (other parameters, seeds or lab): choose another -o "
                "or --points".format(folder)
            )
    done = {}
    for path in sorted(folder.glob("point_*/point.json")):
        try:
            record = PointRecord.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError, KeyError):
            continue  # an unreadable record: the point runs again
        if record.error is None:
            done[record.index] = record
    return done


def _save_record(folder: Path, record: PointRecord) -> None:
    target = folder / "point_{:05d}".format(record.index) / "point.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.to_dict(), indent=1))
    os.replace(tmp, target)


def run_sweep(
    definition: SweepDefinition,
    output: Path,
    folder: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict[int, PointRecord]:
    """Run the points of ``definition`` not finished yet (in ``folder``) on Dask, writing the
    sweep file ``output`` after each; returns every point's record by index.

    A termination signal (a ``KeyboardInterrupt``, re-raised) kills the workers of the local
    cluster; on the cluster at ``scheduler`` it cancels this sweep's unfinished points (the
    exception's note says how many), whose running ones then stop on their workers
    (:mod:`sim.sweep_point`)."""
    from tqdm import tqdm

    from sim.sweep_file import write_sweep_file
    from sim.termination import signals_held

    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = definition.fingerprint()
    records = _load_done(folder, fingerprint)
    (folder / "sweep.json").write_text(
        json.dumps({"fingerprint": fingerprint, "definition": definition.to_json()}, indent=1)
    )
    points = definition.points(folder.resolve())  # (a remote worker has another cwd)
    table = [
        {"index": p.index, "seed_index": p.seed_index, "seed": p.seed, "parameters": p.parameters}
        for p in points
    ]
    todo = [p for p in points if p.index not in records]
    start = time.time()

    def write() -> None:
        write_sweep_file(output, definition.to_json(), table, records, start_time=start)

    write()
    if records:
        logger.warning("resuming: %d of %d points already done", len(records), len(points))
    if not todo:
        return records
    bar = tqdm(total=len(points), initial=len(records), disable=not progress, unit="point")

    def finished(record: PointRecord) -> None:
        records[record.index] = record
        with signals_held():  # a signal now waits: the sweep file holds every record saved
            _save_record(folder, record)
            write()
        bar.update(1)
        if record.error is not None:
            bar.write("point {} failed: {}".format(record.index, record.error))

    if workers == 0 and not scheduler:  # in this process, one point after the other
        for spec in todo:
            finished(run_point(spec))
        bar.close()
        return records
    client, cluster = _client(scheduler, workers)
    futures: list[Any] = []
    try:
        from distributed import as_completed

        futures = client.map(
            run_point,
            todo,
            pure=False,
            key=["point-{}-{}".format(fingerprint, p.index) for p in todo],
        )
        logger.info("%d points sent to the Dask scheduler at %s", len(futures), _address(client))
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as exc:  # the worker died: recorded like a failed point
                spec = todo[futures.index(future)]
                record = PointRecord(spec.index, dict(spec.parameters), spec.seed_index, spec.seed)
                record.error = "{}: {}".format(type(exc).__name__, exc)
            finished(record)
        bar.close()
    except KeyboardInterrupt as exc:
        if cluster is not None:  # a point in a worker cannot be interrupted: our workers go
            _kill_workers(cluster)
        else:  # another's workers: the scheduler drops this sweep's points
            _cancel_unfinished(client, futures, exc)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return records


# ------------------------------------------------------------------------------------------------
# command line


def add_parser(sub: Any, add_lab_set: Any, common: Any) -> None:
    """The ``sweep`` subcommand on the ``ionlink-sim`` subparsers ``sub``."""
    p = sub.add_parser("sweep", help="run a grid of simulated sequences (Dask distributed)")
    p.add_argument("--lab", default="oxford2020", help=LAB_HELP + " (default: %(default)s)")
    add_lab_set(p, sweep=True)
    p.add_argument(
        "--arg",
        metavar="NAME=SPEC",
        action="append",
        default=[],
        help="remote-entanglement argument, fixed or swept like --set (repeatable)",
    )
    p.add_argument(
        "--seeds", type=int, default=1, help="seeds per grid point (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=seed_arg, default=1, help="root seed of SeedSequence (default: %(default)s)"
    )
    p.add_argument(
        "--heralds",
        type=int,
        default=None,
        help="heralds per analysis setting (default: 60; the same as --arg heralds_per_setting)",
    )
    p.add_argument(
        "--mode",
        default=None,
        choices=["z", "parity", "tomography"],
        help="analysis mode (default: parity; the same as --arg mode)",
    )
    p.add_argument("--budget-only", action="store_true", help="only the error budget per point")
    p.add_argument(
        "--calibration",
        default="chain",
        choices=["chain", "lab"],
        help="chain: run the readout and single-photon calibrations in every point (as the demo); "
        "lab: take the calibrations from the lab description (default: %(default)s)",
    )
    p.add_argument(
        "--device-db",
        default=None,
        help="device database of every point (default: the repository's device_db.py; "
        "device_db_drtio.py: node B on a DRTIO satellite, [drtio] keys can be swept)",
    )
    p.add_argument("--readout-shots", type=int, default=200)
    p.add_argument("--photon-attempts", type=int, default=3000)
    p.add_argument("-o", "--output", default="sweep.h5", help="sweep file (default: %(default)s)")
    p.add_argument(
        "--points",
        default=None,
        help="folder of the points' results (default: the sweep file's name without .h5)",
    )
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler (tcp://host:8786)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local cluster size (default: one per core; 0: run the points in this process)",
    )
    common(p)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``ionlink-sim sweep``; exit status 1 if any point failed."""
    import sys

    definition = definition_from_args(args)
    unmodelled = definition.unmodelled_arguments()
    if unmodelled:
        from sim.budget_arguments import unmodelled_note

        sys.stderr.write(
            "ionlink-sim: note: {}: the points have no budget (NaN)\n".format(
                unmodelled_note(unmodelled)
            )
        )
    output = Path(args.output)
    folder = Path(args.points) if args.points else output.with_suffix("")
    if folder == output:
        folder = output.with_name(output.name + ".points")
    from sim.outputs import OutputPath, OutputPathError, prepare_outputs

    try:
        prepare_outputs(
            [OutputPath(output, "sweep file"), OutputPath(folder, "points folder", folder=True)]
        )
    except OutputPathError as exc:
        raise InputError(str(exc)) from None
    from sim.termination import signals_interrupt

    with signals_interrupt():  # SIGTERM and SIGHUP stop it as Ctrl-C does (exit 143, 129)
        records = run_sweep(
            definition,
            output,
            folder,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    failed = sorted(i for i, r in records.items() if r.error is not None)
    if not args.quiet:
        print("sweep file: {} ({} points, {} failed)".format(output, len(records), len(failed)))
    return 1 if failed else 0
