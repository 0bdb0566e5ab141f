# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which runs an ``ionlink-analyze`` command reads: its path arguments (folders searched by rid,
date and class), the files loaded (by a process pool or a Dask cluster from
:data:`PARALLEL_FROM` files on, :mod:`analysis.parallel`), the kinds and mode it reads selected
(others skipped with a note), and the groups of entanglement runs summarised together (by
combinable modes and heralding path)."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from .folders import find_runs, not_named_as_results, parse_time
from .io import AnalysisError, Run, load
from .pooling import same_runs
from .unusable import Skips, Unusable, or_unusable

__all__ = [
    "PARALLEL_FROM",
    "executor_for",
    "expand_paths",
    "find_paths",
    "groups",
    "none_found",
    "note",
    "repeats",
    "select_runs",
    "split_by_heralding",
]

#: files from which an archive is read by a process pool by default
PARALLEL_FROM = 32


def find_paths(root: Path, args: argparse.Namespace) -> list[Path]:
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as e:
        raise AnalysisError(root, f"bad date: {e}") from e
    return find_runs(root, rid=args.rid, since=since, until=until, experiment_class=args.cls)


def none_found(folder: Path) -> str:
    """Why a folder gave no results files: none matches, and which .h5 files it holds that are
    not named as results files (so never taken from a folder)."""
    text = "no results files ({rid:09d}-{Class}.h5) match in this directory"
    others = not_named_as_results(folder)
    if not others:
        return text
    shown = ", ".join(str(q.relative_to(folder)) for q in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    return (
        f"{text}; {len(others)} .h5 file(s) here not named so, hence not taken from a folder "
        f"({shown}{more}): give them by their paths"
    )


def expand_paths(args: argparse.Namespace) -> list[tuple[Path, bool]]:
    """(path, came from a directory) for every path argument; directories are searched."""
    out: list[tuple[Path, bool]] = []
    for s in args.paths:
        p = Path(s)
        if p.is_dir():
            found = find_paths(p, args)
            if not found:
                raise AnalysisError(p, none_found(p))
            out += [(q, True) for q in found]
        else:
            out.append((p, False))
    return out


def note(args: argparse.Namespace, msg: str) -> None:
    """One note line on stderr, under the program's name (``args.prog``, :func:`main`)."""
    print(f"{args.prog}: note: {msg}", file=sys.stderr)


def executor_for(args: argparse.Namespace, n_files: int) -> Any:
    """The executor of this command's reads (:mod:`analysis.parallel`)."""
    from .parallel import archive_executor

    jobs = args.jobs if args.jobs is not None else (None if n_files >= PARALLEL_FROM else 1)
    if jobs is not None and jobs < 1:
        raise AnalysisError("--jobs", f"must be at least 1, got {jobs}")
    return archive_executor(args.scheduler, jobs)


def select_runs(
    args: argparse.Namespace,
    kinds: tuple[str, ...],
    executor: Any = None,
    skips: Skips | None = None,
) -> list[Run]:
    """Runs of ``kinds`` (and ``--mode``) among the paths; files found in directories that are of
    other kinds, or entanglement runs without a herald (a link that did not herald), are skipped
    with a note; explicitly named files are kept (their summary says why it cannot use them).
    With an ``executor`` the files are loaded in parallel. A file that cannot be read raises,
    unless ``skips`` allows leaving it out (noted there)."""
    from .parallel import InlineExecutor, ordered_map

    runs: list[Run] = []
    other: list[str] = []  # found in directories, of kinds this command does not read
    skipped: list[str] = []  # of the right kind, left out by --mode or for want of heralds
    bad: list[AnalysisError] = []
    found = expand_paths(args)
    if skips is not None and skips.from_folders:
        skips.in_folders = frozenset(str(p) for p, from_dir in found if from_dir)
    read = functools.partial(or_unusable, load)
    loaded = ordered_map(executor or InlineExecutor(), read, [p for p, _ in found])
    for (p, from_dir), r in zip(found, loaded):
        if isinstance(r, Unusable):
            if skips is None or not skips.allows(r.error):
                raise r.error
            bad.append(r.error)
            continue
        mode = str(r.values.get("mode")) if r.experiment == "remote_entanglement" else None
        if from_dir and r.experiment not in kinds:
            other.append(r.experiment_class or p.name)
            continue
        if args.mode and r.experiment == "remote_entanglement" and mode != args.mode:
            skipped.append(f"{r.experiment_class or p.name} (mode {mode})")
            continue
        if (
            from_dir
            and r.experiment == "remote_entanglement"
            and r.values.get("totals.heralds") == 0
        ):
            skipped.append(f"{r.experiment_class or p.name} (rid {r.rid}: no heralds)")
            continue
        runs.append(r)
    if other:
        note(
            args,
            f"skipped {len(other)} run(s) of other kinds ({', '.join(sorted(set(other)))}): "
            f"{args.cmd} reads {' / '.join(kinds)} runs",
        )
    if skipped:
        note(args, f"skipped {len(skipped)} run(s): {', '.join(sorted(set(skipped)))}")
    if not runs and len(bad) == 1 and not (other or skipped):
        raise bad[0]  # the one file there was: its error, as without skipping
    if skips is not None:
        skips.note(bad)
    if not runs:
        raise AnalysisError(
            ", ".join(args.paths),
            f"no runs of kind {' / '.join(kinds)}"
            + (f" in mode {args.mode!r}" if args.mode else "")
            + " among these paths",
        )
    return runs


def repeats(runs: list[Run]) -> dict[int, str]:
    """The runs given more than once (:func:`~analysis.pooling.same_runs`): the index of each later
    file → the note that its per-run result repeats the first's."""
    index = {id(r): i for i, r in enumerate(runs)}
    out = {}
    for same in same_runs(runs):
        a, b = same.first.path, same.later.path
        what = f"{b} given twice" if str(a) == str(b) else f"{b} holds the run of {a} ({same.how})"
        out[index[id(same.later)]] = f"{what}: its per-run result repeats that one"
    return out


def groups(
    args: argparse.Namespace,
    runs: list[Run],
    per_run: bool,
    note_repeats: bool = True,
    by_heralding: bool = False,
) -> list[list[Run]]:
    """Entanglement runs to summarise together: each run alone with ``per_run`` (a run given twice
    noted unless ``note_repeats`` is False: the caller notes it), else one group per combinable
    mode set (z and parity runs combine; tomography runs form their own group), split further
    with ``by_heralding`` into one group per heralding path (:func:`split_by_heralding`)."""
    if per_run:
        for text in repeats(runs).values() if note_repeats else ():
            note(args, text)
        return [[r] for r in runs]
    by_mode: dict[str, list[Run]] = {}
    for r in runs:
        mode = str(r.values.get("mode"))
        by_mode.setdefault("tomography" if mode == "tomography" else "z+parity", []).append(r)
    if len(by_mode) > 1:
        note(
            args,
            "runs of modes that cannot be combined ("
            + "; ".join(f"{k}: {len(v)} run(s)" for k, v in by_mode.items())
            + "): one result per mode group "
            "(--mode to choose one, --per-run for each run)",
        )
    out = list(by_mode.values())
    return [h for g in out for h in split_by_heralding(args, g)] if by_heralding else out


def split_by_heralding(args: argparse.Namespace, runs: list[Run]) -> list[list[Run]]:
    """``runs`` in one group per heralding path (``ionlink.heralding``: gateware, cpu) when they
    hold more than one, with a note: their rates differ, so they are never pooled
    (:func:`~analysis.pooling.check_combinable`); runs whose files do not say form a group of
    their own then. One path (or none said): ``[runs]``."""
    paths: dict[str | None, list[Run]] = {}
    for r in runs:
        h = r.values.get("ionlink.heralding")
        paths.setdefault(None if h is None else str(h), []).append(r)
    if len([h for h in paths if h is not None]) < 2:
        return [runs]
    each = [f"{h or 'an unrecorded path'} ({len(v)} run(s))" for h, v in paths.items()]
    what = "report" if args.cmd == "report" else "result"
    note(
        args,
        f"entanglement runs heralded by {' and by '.join(each)}: one {what} per heralding path "
        "(their attempt and herald rates differ)",
    )
    return list(paths.values())
