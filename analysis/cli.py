# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-analyze``: fidelity summaries, reports of every experiment kind, file listings.

Errors are one line ``ionlink-analyze: error: <file>: <problem>`` on stderr with exit code 2
(bad arguments too: ``ionlink-analyze: error: argument --cl: …``); ``--debug`` shows the
traceback instead. A file that cannot be analysed (unreadable, or its records missing or
inconsistent) is left out with one note naming it and why where the other results stand without
it: with ``--per-run`` (``fidelity``, ``report``), in ``report`` every file found in a folder
(its combined report pools the others), and in ``info`` every file (each listing stands alone);
the others are analysed and the exit code is 3
(:data:`EXIT_SKIPPED`). A pooled ``fidelity`` refuses such a file (exit 2), found in a folder or
named, as do both commands runs that must not be pooled (a run given twice, calibrated with
uncalibrated: the pool whole, never one of its files left out); both give one result (a
report) per heralding path (gateware, CPU). ``report -o`` (and ``gate -o``) with an existing
folder or a path ending in a separator writes inside it, each report named after its results
file(s) (:func:`~analysis.folders.report_path`). Output cut short by a closed pipe
(``| head``) ends quietly with exit 141.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli_parser import PROG, get_argparser
from .cli_runs import (
    executor_for,
    expand_paths,
    find_paths,
    groups,
    note,
    repeats,
    select_runs,
)
from .folders import names_folder, report_path
from .io import (
    RESULTS_FILE_NAME,
    AnalysisError,
    Run,
    SchemaError,
    kind_problem,
    load,
)
from .unusable import Skips, alone, or_unusable, pool_usable

__all__ = ["main", "EXIT_SKIPPED"]

#: exit status when the usable runs were analysed and unusable files skipped (each in a note)
EXIT_SKIPPED = 3
#: Experiment kinds with a report: entanglement runs, the calibrations (analysis.calibration) and
#: remote gates (analysis.gate_report).
_REPORT_KINDS = (
    "remote_entanglement",
    "single_photon",
    "hom",
    "readout_calibration",
    "dark_counts",
    "remote_gate",
)


def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from .parallel import ordered_map
    from .summary import fidelity_summary

    # a pooled fidelity is refused with a file it cannot pool, found in a folder or not (one
    # summary line, read by scripts: it must not silently describe fewer runs than asked)
    skips = Skips(functools.partial(note, args), every_file=args.per_run, from_folders=False)
    with executor_for(args, len(expand_paths(args))) as executor:
        runs = select_runs(args, ("remote_entanglement",), executor, skips)
        # (repeats are in the results' notes); one result per heralding path, as report
        summarised = groups(args, runs, args.per_run, note_repeats=False, by_heralding=True)
        # timing=False: photon timing, the window trade-off and the rate-vs-time series are not
        # part of this command's output (the report computes them), so photons.t_mu is not read
        summarise = functools.partial(
            fidelity_summary,
            cl=args.cl,
            n_boot=args.bootstrap,
            seed=args.seed,
            progress=_progress(args) and len(summarised) == 1,
            timing=False,
        )
        pool = functools.partial(pool_usable, summarise, droppable=skips.in_folders)
        each = functools.partial(or_unusable, pool)
        made = skips.usable(
            args.paths,
            list(ordered_map(executor, each, [[r.path for r in g] for g in summarised])),
        )
    if args.per_run:
        for i, text in repeats(runs).items():
            if made[i] is not None:
                made[i].notes.append(text)
    reps = [rep for rep in made if rep is not None]
    status = EXIT_SKIPPED if skips.errors else 0
    if args.json:
        out = [rep.to_dict() for rep in reps]
        _print_json(out[0] if len(out) == 1 else out)
        return status
    from .report import _fmt

    for k, rep in enumerate(reps):
        if k:
            print()
        path = f", heralded by {rep.source.heralding}" if rep.source.heralding else ""
        print(
            f"files: {', '.join(rep.files)}  (mode {rep.mode}{path}, schema "
            f"{rep.source.schema_version})"
        )
        if rep.source.labs:
            print(f"simulated lab: {'; '.join(rep.source.labs)}")
        print(f"fidelity:    {_fmt(rep.fidelity)}")
        print(f"  ψ+:        {_fmt(rep.fidelity_psi_plus)}")
        print(f"  ψ−:        {_fmt(rep.fidelity_psi_minus)}")
        if rep.fidelity_spam_corrected is not None:
            print(f"  SPAM-corr: {_fmt(rep.fidelity_spam_corrected)}")
        if rep.estimates.p_odd is not None:
            print(f"P_odd:       {_fmt(rep.estimates.p_odd)}  (Z-basis heralds, ψ+ and ψ−)")
        print(
            f"heralds {rep.heralds} / attempts {rep.attempts}; p_success {_fmt(rep.p_success, 6)}"
        )
        print(f"rate {rep.rate_lab.value:.4g} s⁻¹ (lab), {rep.rate_wall.value:.4g} s⁻¹ (wall)")
        for line in rep.notes:
            print(f"note: {line}")
    return status


def _json_ready(x: Any) -> Any:
    """``x`` with numpy values made Python ones and every non-finite float (an undefined
    statistic, e.g. a χ² with no degree of freedom) made ``None``: strict JSON (RFC 8259 has
    no NaN or infinity), which every parser reads."""
    import numpy as np

    if isinstance(x, np.ndarray):
        x = x.tolist()
    elif isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    return x


def _print_json(obj: Any, indent: int = 2) -> None:
    """Print ``obj`` as strict JSON (:func:`_json_ready`)."""
    print(json.dumps(_json_ready(obj), indent=indent, allow_nan=False))


def _cmd_report(args: argparse.Namespace) -> int:
    from .parallel import ordered_map

    skips = Skips(functools.partial(note, args), every_file=args.per_run)
    with executor_for(args, len(expand_paths(args))) as executor:
        runs = select_runs(args, _REPORT_KINDS, executor, skips)
        status = _report(args, runs, executor, ordered_map, skips)
    return EXIT_SKIPPED if status == 0 and skips.errors else status


def _call(make: Callable[[], Any]) -> Any:
    return make()


def _report_jobs(
    args: argparse.Namespace, runs: list[Run], skips: Skips
) -> list[tuple[Path, Callable[[], tuple[Any, list[AnalysisError]]]]]:
    """``(where, summary)`` of every report of ``runs``: one per entanglement group (a file found
    in a folder that cannot be pooled is left out of it, :func:`pool_usable`), one per other
    run; each summary gives ``(report, errors of the files left out)``."""
    from .calibration import summarise
    from .gate_report import gate_summary
    from .summary import fidelity_summary

    for r in runs:
        problem = kind_problem(r, _REPORT_KINDS)
        if problem is not None:
            raise SchemaError(
                r.path,
                f"{problem}; reports exist for ionlink runs of kinds {', '.join(_REPORT_KINDS)}",
            )
    ent = [r for r in runs if r.experiment == "remote_entanglement"]
    jobs: list[tuple[Path, Callable[[], tuple[Any, list[AnalysisError]]]]] = []
    entanglement = functools.partial(
        fidelity_summary,
        cl=args.cl,
        n_boot=args.bootstrap,
        seed=args.seed,
        progress=_progress(args),
    )
    for g in groups(args, ent, args.per_run, by_heralding=True) if ent else []:
        paths = [r.path for r in g]
        stem = paths[0].stem + ("-combined" if len(paths) > 1 else "") + "-report"
        pool = functools.partial(pool_usable, entanglement, paths, skips.in_folders)
        jobs.append((paths[0].with_name(stem), pool))
    for r in runs:
        if r.experiment != "remote_entanglement":
            summary: Callable[..., Any] = (
                gate_summary if r.experiment == "remote_gate" else summarise
            )
            make = functools.partial(summary, r, cl=args.cl, n_boot=args.bootstrap, seed=args.seed)
            jobs.append((r.path.with_name(r.path.stem + "-report"), functools.partial(alone, make)))
    return jobs


def _report(
    args: argparse.Namespace, runs: list[Run], executor: Any, ordered_map: Any, skips: Skips
) -> int:
    """Write the reports of ``runs``; a file ``skips`` allows to leave out that cannot be
    reported on is left out with a note."""
    from .gate_report import GateReport, write_gate_report
    from .report import write_report

    jobs = _report_jobs(args, runs, skips)
    # every summary first: a file that cannot be reported on is named before anything is written
    made = ordered_map(executor, functools.partial(or_unusable, _call), [m for _, m in jobs])
    usable = skips.usable(args.paths, list(made))
    reps = [(dest, rep) for (dest, _), rep in zip(jobs, usable) if rep is not None]
    formats = ("md", "html") if args.format == "both" else (args.format,)
    folder = bool(args.output) and names_folder(args.output)
    for dest, rep in reps:
        out = (
            report_path(args.output, dest, several=len(reps) > 1, folder=folder)
            if args.output
            else dest
        )
        try:
            written = (
                write_gate_report(rep, out, formats=formats)
                if isinstance(rep, GateReport)
                else write_report(rep, out, formats=formats, cl=args.cl)
            )
        except OSError as e:
            raise AnalysisError(out, f"cannot write report: {e.strerror or e}") from e
        for w in written:
            print(w)
    return 0


#: ``info`` shows a 1-D dataset's value when it has at most this many elements, or its text is
#: at most :data:`_SHORT_TEXT` characters (eight channel names, not a thousand counts)
_SHORT_ITEMS = 4
_SHORT_TEXT = 100


def _scalar_text(v: Any) -> str | None:
    """The value ``info`` shows of a scalar or short 1-D dataset (None: not shown)."""
    import numpy as np

    a = np.asarray(v)
    if a.ndim == 0:
        return str(v)
    if a.ndim == 1:
        text = str(a.tolist())
        if a.size <= _SHORT_ITEMS or len(text) <= _SHORT_TEXT:
            return text
    return None


def _loaded(path: Path) -> tuple[Run, list[AnalysisError]]:
    """``(load(path), [])``: one file's result, as :class:`Skips` takes it."""
    return load(path), []


def _schema_text(run: Run) -> str:
    """The schema ``info`` names: ``schema_version``, else a kind's own (``gate.schema_version``,
    the only one a remote-gate run writes: ``1 (gate.schema_version)``), else ``None``."""
    if run.schema_version is not None:
        return str(run.schema_version)
    own = sorted(k for k in run.values if k.endswith(".schema_version"))
    return f"{run.values[own[0]]} ({own[0]})" if own else "None"


def _cmd_info(args: argparse.Namespace) -> int:
    # each file's listing stands alone: a file that cannot be read is skipped with a note (exit
    # 3), as with --per-run; the one file named alone gives its error (exit 2)
    skips = Skips(functools.partial(note, args), every_file=True)
    made = [or_unusable(_loaded, p) for p, _ in expand_paths(args)]
    runs = [r for r in skips.usable(args.paths, made) if r is not None]
    infos = []
    for r in runs:
        infos.append(
            {
                "file": str(r.path),
                "artiq_version": r.artiq_version,
                "rid": r.rid,
                "start_time": r.start_time,
                "run_time": r.run_time,
                "expid": r.expid,
                "schema_version": r.schema_version,
                "experiment": r.experiment,
                "datasets": {
                    k: {
                        "shape": list(i.shape),
                        "dtype": i.dtype,
                        **i.attrs,
                        **(
                            {"value": r.values[k]}
                            if k in r.values and _scalar_text(r.values[k])
                            else {}
                        ),
                    }
                    for k, i in r.datasets.items()
                },
                "archive": sorted(r.archive),
            }
        )
    status = EXIT_SKIPPED if skips.errors else 0
    if args.json:
        _print_json(infos)
        return status
    for r, d in zip(runs, infos):
        print(
            f"{d['file']}: ARTIQ {d['artiq_version']}, rid {d['rid']}, class "
            f"{(d['expid'] or {}).get('class_name') if isinstance(d['expid'], dict) else None}, "
            f"schema {_schema_text(r)}, experiment {d['experiment']}"
        )
        for k, v in d["datasets"].items():
            val = f" = {_scalar_text(v['value'])}" if "value" in v else ""
            print(f"  {k}  {v['dtype']}{v['shape']}{val}")
    return status


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import plot_sweep, read_sweep, summary_lines, sweep_points

    table = read_sweep(args.file)
    points = sweep_points(table)
    if args.json:
        _print_json(points, indent=1)
    else:
        print("\n".join(summary_lines(points, table.parameters)))
    if not args.no_plot:
        out = plot_sweep(table, args.output or Path(args.file).with_suffix(".png"), args.parameter)
        print(f"plot: {out}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    from .gate_report import format_gate, gate_summary, gate_summary_dict, write_gate_report

    rep = gate_summary(args.path, cl=args.cl, n_boot=args.bootstrap, seed=args.seed)
    if args.output:
        path = Path(args.path)
        out = report_path(
            args.output,
            path.with_name(path.stem + "-report"),
            several=False,
            folder=names_folder(args.output),
        )
        try:
            written = write_gate_report(rep, out)
        except OSError as e:
            raise AnalysisError(out, f"cannot write report: {e.strerror or e}") from e
        for p in written:
            note(args, f"wrote {p}")
    if args.json:
        _print_json(gate_summary_dict(rep))
    else:
        print(format_gate(rep))
    return 0


def _cmd_find(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.exists():
        raise AnalysisError(root, "no such file or directory")
    if root.is_file() and not RESULTS_FILE_NAME.match(root.name):
        raise AnalysisError(
            root,
            "a file, not a results folder, and not named like a results file "
            "({rid:09d}-{Class}.h5); ionlink-analyze info shows any file",
        )
    found = find_paths(root, args)
    for p in found:
        print(p)
    if not found:
        note(args, f"no results files ({{rid:09d}}-{{Class}}.h5) match under {root}")
    return 0


def stdout_closed() -> int:
    """The reader of standard output went away (``| head``): silence the final flush at exit
    too, and return the shell's status for SIGPIPE (141)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def _cmd_tags(args: argparse.Namespace) -> int:
    from .tag_consumer import command

    return command(args)


def main(argv: list[str] | None = None, *, prog: str = PROG, catch_interrupt: bool = True) -> int:
    """Run the command line; returns the exit status (0 ok, 3 results printed and unusable files
    skipped or, for ``tags``, the stream lost mid-capture, 2 bad input or usage, 1 an internal
    error, 130 Ctrl-C, 141 closed pipe). ``prog``: the name its notes and errors go under
    (``ionlink-sim demo`` when the demo runs the analysis). ``catch_interrupt`` False: a
    ``KeyboardInterrupt`` reaches the caller, for a program that runs the analysis in-process and
    reports its own interruption (the demo)."""
    try:
        args = get_argparser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    args.prog = prog
    debug = args.debug
    try:
        code = {
            "fidelity": _cmd_fidelity,
            "report": _cmd_report,
            "info": _cmd_info,
            "find": _cmd_find,
            "tags": _cmd_tags,
            "sweep": _cmd_sweep,
            "gate": _cmd_gate,
        }[args.cmd](args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return stdout_closed()
    except AnalysisError as e:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if not catch_interrupt:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line without --debug, as promised
        if debug:
            traceback.print_exc()
        where = " ".join(
            getattr(args, "paths", []) or [getattr(args, "path", "") or getattr(args, "file", "")]
        )
        print(
            f"{prog}: error: {where}: {type(e).__name__}: {e}",
            file=sys.stderr,
        )
        return 1
