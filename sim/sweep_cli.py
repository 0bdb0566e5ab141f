# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``ionlink-sim sweep`` command line: its options (:func:`add_parser`) and the command
(:func:`cmd_sweep`): the definition (:mod:`sim.sweep`), the outputs checked, the points run
(:mod:`sim.sweep_run`) with termination signals stopping it as Ctrl-C does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.experiment_file import InputError
from sim.heralding_path import PATH_NAMES, heralding_path
from sim.presets import LAB_HELP
from sim.seed import seed_arg
from sim.sweep import definition_from_args
from sim.sweep_run import run_sweep

__all__ = ["add_parser", "cmd_sweep"]


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
        help="remote-entanglement argument, fixed or swept like --set (repeatable; those of "
        "--path's experiment)",
    )
    p.add_argument(
        "--path",
        default="gateware",
        choices=PATH_NAMES,
        help="heralding path: the entangler's loop (repository/remote_entanglement.py) or CPU "
        "heralding (repository/remote_entanglement_cpu.py); default: %(default)s",
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
                unmodelled_note(unmodelled, heralding_path(definition.path).counterparts)
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
