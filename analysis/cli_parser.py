# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-analyze``'s command line: its commands and their options (:func:`get_argparser`).
An argument error is one line, ``ionlink-analyze: error: <problem> (see … --help)``, and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from comms.common_args import checked_arg

from .cli_runs import PARALLEL_FROM

__all__ = ["PROG", "get_argparser"]

PROG = "ionlink-analyze"
_MODES = ("z", "parity", "tomography")


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit 2 (argparse prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


_cl = checked_arg(
    float, lambda v: 0 < v < 1, "confidence level must be a number in (0, 1), got {text}"
)
_boot = checked_arg(
    int, lambda v: v >= 20, "bootstrap samples must be an integer >= 20, got {text}"
)


def get_argparser() -> argparse.ArgumentParser:
    """The ``ionlink-analyze`` command line: its subcommands and their options."""
    p = _Parser(prog=PROG, description="Analyse ionlink/ARTIQ HDF5 results files.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="cmd", required=True)

    def select(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--rid", type=int, action="append", help="in directories: only this rid (repeatable)"
        )
        sp.add_argument("--since", help="in directories: from this date/hour (YYYY-MM-DD[THH])")
        sp.add_argument("--until", help="in directories: up to this date/hour")
        sp.add_argument("--class", dest="cls", help="in directories: only this experiment class")
        sp.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
        )

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "paths", nargs="+", metavar="PATH", help="results file(s) or results directories"
        )
        select(sp)
        sp.add_argument("--mode", choices=_MODES, help="entanglement runs: only this mode")
        sp.add_argument(
            "--per-run", action="store_true", help="one result per run instead of combining runs"
        )
        sp.add_argument(
            "--cl", type=_cl, default=0.95, help="confidence level in (0, 1) (default 0.95)"
        )
        sp.add_argument(
            "--bootstrap", type=_boot, default=2000, help="bootstrap samples, >= 20 (default 2000)"
        )
        sp.add_argument("--seed", type=int, default=0, help="bootstrap seed")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar on long reads")
        sp.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="read files in this many processes (default: one per core from "
            f"{PARALLEL_FROM} files on, else 1)",
        )
        sp.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="read files on the Dask cluster at ADDRESS (tcp://host:8786)",
        )

    f = sub.add_parser(
        "fidelity", help="fidelity summary of entanglement runs (combined, or --per-run)"
    )
    common(f)
    f.add_argument("--json", action="store_true", help="print a machine-readable JSON summary")
    r = sub.add_parser(
        "report",
        help="Markdown/HTML report with PNG plots, for every experiment kind (entanglement, "
        "calibrations, remote gates)",
    )
    common(r)
    r.add_argument(
        "-o",
        "--output",
        help="an existing folder or a path ending in / (DIR/): each report inside it, named "
        "after its results file(s), <stem>-report.md; else the report's path (several "
        "reports: a folder, or NAME.md as their prefix NAME-); default: next to the first "
        "file, <stem>-report",
    )
    r.add_argument("--format", choices=("md", "html", "both"), default="both")
    i = sub.add_parser(
        "info", help="metadata, datasets and scalar values of results files or folders"
    )
    i.add_argument("paths", nargs="+", metavar="PATH")
    select(i)
    i.add_argument("--json", action="store_true")
    t = sub.add_parser("tags", help="live arrival histogram, g2 and HOM dip of a tag stream")
    _tag_arguments(t)
    w = sub.add_parser(
        "sweep", help="a sweep file of ionlink-sim sweep: its points, and plots against the budget"
    )
    w.add_argument("file", metavar="FILE", help="sweep file (ionlink-sim sweep -o)")
    w.add_argument("--json", action="store_true", help="print the points as JSON")
    w.add_argument("-o", "--output", help="plot file (PNG; default: FILE with .png)")
    w.add_argument("--parameter", help="swept key to plot against (default: the first)")
    w.add_argument("--no-plot", action="store_true", help="no plot")
    g = sub.add_parser(
        "gate", help="remote-gate run: process fidelity, truth table or Grover success"
    )
    g.add_argument("path", metavar="FILE", help="a RemoteGate results file")
    g.add_argument("--json", action="store_true", help="print a machine-readable JSON summary")
    g.add_argument("--cl", type=_cl, default=0.95, help="confidence level (default 0.95)")
    g.add_argument(
        "--bootstrap", type=_boot, default=2000, help="bootstrap samples, >= 20 (default 2000)"
    )
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    g.add_argument(
        "-o",
        "--output",
        help="also write a report (Markdown, HTML, PNG) here: its path, or an existing folder or "
        "a path ending in / (DIR/) to write <stem>-report.md inside",
    )
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks")
    d = sub.add_parser(
        "find", help="list results files under a results tree (or the one file given)"
    )
    d.add_argument("root")
    select(d)
    return p


def _tag_arguments(parser: argparse.ArgumentParser) -> None:
    from .tag_consumer import add_arguments

    add_arguments(parser)
