# SPDX-License-Identifier: LGPL-3.0-or-later
"""Command line: ``ionlink-sim run|budget|demo|sweep|slack|master|submit`` (also ``python -m
sim``; ``slack``: :mod:`sim.slack.command`).

``ionlink-sim run EXPERIMENT.py [-c CLASS] [KEY=VALUE ...]`` behaves like ``artiq_run`` (PYON
arguments, same class selection and errors) and writes the master's results files. Bad input gives
one line ``ionlink-sim: error: ...`` on stderr (a traceback only with ``--debug``).

Exit status: 0 ok, 1 the experiment raised or something it made could not be saved where asked
(a full disk: the results file then goes to the working directory or the temporary folder, one
line says where), 2 bad input (including an output path that cannot be written or is on a full
disk, found before anything runs), and for a run ended by a signal 128 + its number: 130
Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP. The first such signal during a run requests termination
as the dashboard does (the experiment stops at its next pause check and its results file is
written with everything recorded so far); a second one stops at once. ``-q`` shows warnings and
errors only (no progress bar, no dataset listing).
"""

from __future__ import annotations

import argparse
import gc
import logging
import pathlib
import signal
import sys
from typing import Any, NoReturn, Sequence

from sim.budget_arguments import add_loop_options, loop_options
from sim.cli_simulation import make_simulation, simulation_options
from sim.heralding_path import PATH_NAMES, heralding_path
from sim.presets import LAB_HELP
from sim.seed import seed_arg

__all__ = ["main", "get_argparser"]

logger = logging.getLogger(__name__)
PROG = "ionlink-sim"
ROOT = pathlib.Path(__file__).resolve().parents[1]


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write("{}: error: {}\n".format(PROG, message))
        sys.exit(2)


def get_argparser() -> argparse.ArgumentParser:
    """The ``ionlink-sim`` argument parser."""
    parser = _Parser(prog=PROG, description="ionlink RTIO timing simulator for ARTIQ experiments")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run an experiment file in the simulator (like artiq_run)")
    run.add_argument("file", metavar="EXPERIMENT", help="experiment file")
    run.add_argument(
        "arguments", metavar="KEY=VALUE", nargs="*", help="experiment arguments, values in PYON"
    )
    run.add_argument("-c", "--class-name", default=None, help="name of the class to run")
    simulation_options(run)
    run.add_argument(
        "--live",
        action="store_true",
        help="also serve the run as a simulated master and show its applets in a window",
    )
    add_lab_set(run)
    run.add_argument(
        "--drawn-costs",
        action="store_true",
        help="draw each CPU cost from its distribution (default: the mean costs, deterministic)",
    )
    _common(run)

    budget = sub.add_parser("budget", help="print the analytic rate/fidelity budget of a lab")
    budget.add_argument("lab", metavar="LAB", help=LAB_HELP)
    budget.add_argument(
        "--mode",
        default="parity",
        choices=["z", "parity", "tomography"],
        help="analysis mode of the experiment (sets the analysis pulses per "
        "herald; default: %(default)s)",
    )
    budget.add_argument(
        "--json", action="store_true", help="print every figure as one JSON object (for scripts)"
    )
    budget.add_argument(
        "--device-db",
        default=None,
        help="device database whose DRTIO topology the loop runs on (device_db_drtio.py: node B "
        "on a satellite; default: one chassis)",
    )
    add_lab_set(budget)
    budget.add_argument(
        "--gate",
        action="store_true",
        help="the teleported remote gate's budget (labs with memory ions: repository/remote_gate)",
    )
    budget.add_argument(
        "--detection-gate",
        nargs=2,
        type=int,
        metavar=("START", "STOP"),
        default=None,
        help="the detection gate a run plays, in ns from the excitation pulse start (its "
        "calib.photon.gate_start_mu/gate_stop_mu; default: the lab's nominal gate)",
    )
    budget.add_argument(
        "--heralds-per-setting",
        type=int,
        default=None,
        metavar="N",
        help="the run's heralds_per_setting (the analysis phases are written once per setting; "
        "default: the experiment's)",
    )
    budget.add_argument(
        "--parity-points",
        type=int,
        default=None,
        metavar="N",
        help="the run's parity_points (phases of the parity scan; default: the experiment's)",
    )
    budget.add_argument(
        "--path",
        default="gateware",
        choices=PATH_NAMES,
        help="heralding path: the entangler's loop (repository/remote_entanglement.py) or CPU "
        "heralding (repository/remote_entanglement_cpu.py); default: %(default)s",
    )
    add_loop_options(budget)
    _common(budget)

    demo = sub.add_parser("demo", help="run the remote-entanglement demo and its report")
    demo.add_argument("--seed", type=seed_arg, default=1, help="random seed (default: %(default)s)")
    demo.add_argument(
        "--results",
        default="results",
        help="results directory (default: %(default)s); the dataset store, the hardware state "
        "and last_rid.pyon are the working directory's",
    )
    demo.add_argument(
        "--heralds",
        type=int,
        default=60,
        help="heralds per analysis setting (default: %(default)s)",
    )
    demo.add_argument(
        "--lab",
        default="oxford2020",
        help="lab description: " + LAB_HELP + " (default: %(default)s)",
    )
    demo.add_argument(
        "--device-db",
        default=None,
        help="device database (default: the repository's device_db.py; device_db_drtio.py: "
        "two chassis)",
    )
    demo.add_argument(
        "--path",
        default="gateware",
        choices=PATH_NAMES,
        help="heralding path: the entangler's loop (repository/remote_entanglement.py) or CPU "
        "heralding (repository/remote_entanglement_cpu.py, labs without the entangler gateware); "
        "default: %(default)s",
    )
    add_lab_set(demo)
    _common(demo)
    from sim.master.cli import add_parsers

    add_parsers(sub, _common)
    from sim.sweep_cli import add_parser as add_sweep_parser

    add_sweep_parser(sub, add_lab_set, _common)
    from sim.slack.command import add_parser as add_slack_parser

    parser.run_parser = run  # type: ignore[attr-defined]
    parser.slack_parser = add_slack_parser(sub, _common)  # type: ignore[attr-defined]
    return parser


def add_lab_set(parser: argparse.ArgumentParser, sweep: bool = False) -> None:
    """``--set KEY=VALUE`` (repeatable): a lab-description value by its dotted TOML key (with
    ``sweep``: ``KEY=START:STOP:NUM`` or ``KEY=A,B,C`` too)."""
    parser.add_argument(
        "--set",
        dest="lab_set",
        metavar="KEY=SPEC" if sweep else "KEY=VALUE",
        action="append",
        default=[],
        help="set a value of the lab description by its dotted TOML key, e.g. "
        "bsa.mode_overlap=0.95 or nodes.*.optics.collection_efficiency=0.05 (repeatable; "
        "checked as the TOML file is)"
        + ("; sweep it with KEY=START:STOP:NUM or KEY=A,B,C" if sweep else ""),
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors, no progress bar"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _setup_logging(args: argparse.Namespace) -> None:
    level = (
        logging.WARNING if args.quiet else max(logging.WARNING - 10 * args.verbose, logging.DEBUG)
    )
    if args.debug:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s:%(name)s:%(message)s")


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write("{}: error: {}\n".format(PROG, " ".join(str(message).split())))
    return code


def cmd_run(args: argparse.Namespace) -> int:
    """``ionlink-sim run``."""
    from sim.collector import keep_kernel_objects
    from sim.experiment_file import check_experiment_file
    from sim.outputs import NotSaved
    from sim.runner import parse_arguments
    from sim.termination import LateSignals, signals_interrupt
    from sim.topology import check_link_overrides

    arguments = parse_arguments(args.arguments)
    check_experiment_file(args.file)
    check_link_overrides(args.lab_set, args.device_db)
    if args.live:
        from sim.master.live import run_live

        return run_live(args, arguments)
    progress = not args.quiet and sys.stderr.isatty()
    interactive = input if sys.stdin.isatty() else None
    closing: list[str] = []  # what the simulation could not save when it closed
    result = None
    try:
        with (
            signals_interrupt(),
            LateSignals() as late,
            make_simulation(args, progress, interactive) as simulation,
        ):
            # what the process holds now (modules, device db, lab) lives until it exits: the
            # cyclic collector need not traverse it again in every full collection during the run
            gc.freeze()
            try:
                with keep_kernel_objects():  # they live until the process exits (sim.collector)
                    result = simulation.run(args.file, args.class_name, arguments)
            finally:
                gc.unfreeze()  # main() called in-process (tests, tools) leaves the collector
            late.hold()  # the run has ended: its files are closed in full (the VCD, the state)
    except NotSaved as exc:
        if result is None:  # (not from closing the simulation)
            raise
        closing = str(exc).splitlines()
    if late.received is not None:
        sys.stderr.write(
            "{}: {} arrived after the run had ended: its files were written in full\n".format(
                PROG, signal.Signals(late.received).name
            )
        )
    return _report_run(result, closing, args)


def _report_run(result: Any, closing: list[str], args: argparse.Namespace) -> int:
    """Print what ``ionlink-sim run`` tells of a finished run (``closing``: what the simulation
    could not save when it closed) and return the exit status."""
    if result.exception is not None and args.debug:
        import traceback

        traceback.print_exception(result.exception)
    exit_code = result.exit_code
    if exit_code == 0 and not result.not_saved and not closing:
        if not args.quiet:
            _print_datasets(result.datasets)
        if result.unseen_signal is not None:
            sys.stderr.write(
                "{}: {} came after the experiment's last termination check: it ran to its end "
                "(exit status 0)\n".format(PROG, signal.Signals(result.unseen_signal).name)
            )
    elif result.status == "terminated":
        from sim.run import STOPPED_AT_ONCE

        at_once = isinstance(result.exception, KeyboardInterrupt) and (
            STOPPED_AT_ONCE in result.datasets
        )
        sys.stderr.write(
            "{}: {} (rid {}, exit status {})\n".format(
                PROG,
                "stopped at once by a second signal: the experiment did not finish its records "
                "(totals may be incomplete; the file says so in {})".format(STOPPED_AT_ONCE)
                if at_once
                else "terminated",
                result.rid,
                result.exit_code,
            )
        )
    elif result.exception is not None:
        hint = "; --debug shows the traceback" if result.exit_code == 1 and not args.debug else ""
        _fail((result.exception_message or result.status) + hint)
    lines = result.not_saved + closing
    if result.results_lost:  # (the results file's line comes first)
        lines[0] += "; the run's datasets follow on stdout"
    for line in lines:
        _fail(line)
    if closing and exit_code == 0:
        exit_code = 1
    if result.results_lost:  # the values taken are in no file: printed, whatever -q says
        _print_datasets(result.datasets)
    if result.results_file is not None and not args.quiet:
        print("results: {}".format(result.results_file))
    return exit_code


def _print_datasets(datasets: dict) -> None:
    """Print ``key: value`` of the run's datasets, sorted, as ``artiq_run`` does."""
    for key in sorted(datasets):
        if key.startswith("ionlink.sim."):
            continue
        print("{}: {}".format(key, datasets[key]))


def cmd_budget(args: argparse.Namespace) -> int:
    """``ionlink-sim budget LAB``."""
    from sim.lab_resolution import resolve_lab
    from sim.runner import InputError

    try:
        from sim.physics.budget import LoopArguments
    except ImportError as exc:
        raise InputError("the budget needs sim.physics.budget, which is not available") from exc
    from sim.topology import check_link_overrides, is_two_chassis

    check_link_overrides(args.lab_set, args.device_db)
    lab = resolve_lab(args.lab, None, args.lab_set)
    if lab is None:
        raise InputError("the budget needs a lab: a preset name or a lab TOML file, not 'none'")
    two = is_two_chassis(args.device_db)
    gate = None if args.detection_gate is None else tuple(args.detection_gate)
    if gate is not None and not 0 <= gate[0] < gate[1]:
        raise InputError("--detection-gate {} {}: need 0 <= START < STOP (ns)".format(*gate))
    if gate is not None:
        from sim.physics.lab import LabError, check_detection_gate

        try:
            check_detection_gate(lab, gate)
        except LabError as exc:
            raise InputError("--detection-gate: {}".format(exc)) from None
    try:
        counts = loop_options(args)
        from sim.physics.budget import as_pumped

        pulses = ("pump_start_s", "pump_stop_s", "excite_time_s")
        as_pumped(lab, LoopArguments(**{k: v for k, v in counts.items() if k in pulses}))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.gate:
        if args.path == "cpu":
            raise InputError(
                "--path cpu: the CPU-heralding budget is for remote entanglement (not with --gate)"
            )
        from sim.physics.gate_budget import format_gate_budget, gate_budget_dict
        from sim.physics.lab import LabError

        try:
            report: Any = (
                gate_budget_dict(lab, two, gate)
                if args.json
                else format_gate_budget(lab, two, gate)
            )
        except LabError as exc:
            raise InputError(str(exc)) from None
    else:
        path = heralding_path(args.path)
        loop = path.loop_arguments(gate_mu=gate, **counts)
        report = (
            path.budget_dict(lab, args.mode, two, loop)
            if args.json
            else path.format_budget(lab, args.mode, two, loop)
        )
    if args.json:
        import json

        print(json.dumps(report, indent=1))
    else:
        print(report)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``ionlink-sim demo``: startup, readout calibration, single-photon calibration and remote
    entanglement at ``--lab``, then the report."""
    from sim.collector import keep_kernel_objects
    from sim.demo import run_demo
    from sim.provenance import NO_LAB
    from sim.runner import InputError
    from sim.termination import signals_interrupt

    if args.heralds < 1:
        raise InputError("--heralds must be at least 1")
    if args.lab == NO_LAB:
        raise InputError("the demo needs a lab: a preset name or a lab TOML file, not 'none'")
    # the process ends with the demo: its exit need not collect the runs' objects one by one
    # (≈ 0.3-0.9 s after a stop during remote entanglement, on a loaded 2-core machine)
    with signals_interrupt(), keep_kernel_objects():
        return run_demo(
            seed=args.seed,
            results_dir=args.results,
            work_dir=".",
            heralds_per_setting=args.heralds,
            progress=not args.quiet and sys.stderr.isatty(),
            lab=args.lab,
            device_db=args.device_db,
            lab_overrides=args.lab_set,
            path=args.path,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ionlink-sim``; returns the exit status."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = get_argparser()
        if argv[:1] in (["run"], ["slack"]):  # like artiq_run: options may follow the arguments
            sub = parser.run_parser if argv[0] == "run" else parser.slack_parser  # type: ignore
            args = sub.parse_intermixed_args(argv[1:])
            args.command = argv[0]
        else:
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported in one line
        return int(exc.code or 0)
    _setup_logging(args)
    from sim.device_manager import DeviceDBError, DeviceError
    from sim.master.cli import COMMANDS as master_commands
    from sim.outputs import NotSaved
    from sim.runner import InputError
    from sim.slack.command import cmd_slack
    from sim.sweep_cli import cmd_sweep
    from sim.termination import exit_status

    commands: dict[str, Any] = {
        "run": cmd_run,
        "budget": cmd_budget,
        "demo": cmd_demo,
        "sweep": cmd_sweep,
        "slack": cmd_slack,
    }
    commands.update(master_commands)
    try:
        return commands[args.command](args)
    except (InputError, DeviceError, DeviceDBError) as exc:
        if args.debug:
            raise
        return _fail(str(exc))
    except NotSaved as exc:  # a full disk (sim.outputs): one line per file not saved
        for line in str(exc).splitlines():
            _fail(line)
        return 1
    except KeyboardInterrupt as exc:  # (with what the stop did, if the command noted it)
        notes = "".join(": " + note for note in getattr(exc, "__notes__", ()))
        sys.stderr.write("{}: interrupted{}\n".format(PROG, notes))
        return exit_status(getattr(exc, "signum", signal.SIGINT))
    except BrokenPipeError:
        from analysis.cli import stdout_closed

        return stdout_closed()
    except Exception as exc:  # a simulator bug: still one line unless --debug
        if args.debug:
            raise
        return _fail("internal error: {}: {}".format(type(exc).__name__, exc), 1)


def entry_point() -> None:
    """Console-script wrapper: exit with :func:`main`'s status (without the interpreter's final
    collection over the run's objects: :func:`sim.collector.skip_final_collection`). Ctrl-C before
    a command runs (while the parser and the commands' modules are imported): one line, 130."""
    try:
        status = main()
    except KeyboardInterrupt:
        from sim.termination import exit_status

        sys.stderr.write("{}: interrupted\n".format(PROG))
        status = exit_status(signal.SIGINT)
    from sim.collector import skip_final_collection

    skip_final_collection()
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry_point()
