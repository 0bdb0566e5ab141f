# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-analyze``: fidelity summaries, reports, file listings.

Errors are one line ``ionlink-analyze: error: <file>: <problem>`` on stderr with exit code 2;
``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from .io import AnalysisError, find_runs, load, parse_time

__all__ = ["main"]
PROG = "ionlink-analyze"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Analyse ionlink/ARTIQ HDF5 results files.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("paths", nargs="+", metavar="PATH", help="results file(s) or results directories")
        sp.add_argument("--rid", type=int, action="append", help="in directories: only this rid (repeatable)")
        sp.add_argument("--since", help="in directories: from this date/hour (YYYY-MM-DD[THH])")
        sp.add_argument("--until", help="in directories: up to this date/hour")
        sp.add_argument("--class", dest="cls", help="in directories: only this experiment class")
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    f = sub.add_parser("fidelity", help="fidelity summary of one or several (combined) runs")
    common(f)
    f.add_argument("--json", action="store_true", help="print a machine-readable JSON summary")
    f.add_argument("--cl", type=float, default=0.95, help="confidence level (default 0.95)")
    f.add_argument("--bootstrap", type=int, default=2000, help="bootstrap samples (default 2000)")
    f.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    f.add_argument("--no-progress", action="store_true", help="no progress bar on long reads")
    r = sub.add_parser("report", help="Markdown/HTML report with PNG plots")
    common(r)
    r.add_argument("-o", "--output", help="report path (default: next to the first file, <stem>-report)")
    r.add_argument("--format", choices=("md", "html", "both"), default="both")
    r.add_argument("--cl", type=float, default=0.95)
    r.add_argument("--bootstrap", type=int, default=2000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-progress", action="store_true")
    i = sub.add_parser("info", help="metadata and datasets of results files (any ARTIQ 5-9 file)")
    i.add_argument("paths", nargs="+", metavar="PATH")
    i.add_argument("--json", action="store_true")
    i.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    d = sub.add_parser("find", help="list results files under a results tree")
    d.add_argument("root")
    d.add_argument("--rid", type=int, action="append")
    d.add_argument("--since")
    d.add_argument("--until")
    d.add_argument("--class", dest="cls")
    d.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return p


def _expand(args: argparse.Namespace) -> list[Path]:
    out: list[Path] = []
    for s in args.paths:
        p = Path(s)
        if p.is_dir():
            found = _find(p, args)
            if not found:
                raise AnalysisError(p, "no results files match in this directory")
            out += found
        else:
            out.append(p)
    return out


def _find(root: Path, args: argparse.Namespace) -> list[Path]:
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as e:
        raise AnalysisError(root, f"bad date: {e}") from e
    return find_runs(root, rid=args.rid, since=since, until=until, experiment_class=args.cls)


def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from .summary import fidelity_summary

    # timing=False: photon timing, the window trade-off and the rate-vs-time series are not part of
    # this command's output (the report computes them), so photons.t_mu is not even read
    rep = fidelity_summary(_expand(args), cl=args.cl, n_boot=args.bootstrap, seed=args.seed, progress=_progress(args),
                           timing=False)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2, allow_nan=False, default=_json_default))
        return 0
    from .report import _fmt

    print(f"files: {', '.join(rep.files)}  (mode {rep.mode}, schema {rep.schema_version})")
    print(f"fidelity:    {_fmt(rep.fidelity)}")
    print(f"  ψ+:        {_fmt(rep.fidelity_psi_plus)}")
    print(f"  ψ−:        {_fmt(rep.fidelity_psi_minus)}")
    if rep.fidelity_spam_corrected is not None:
        print(f"  SPAM-corr: {_fmt(rep.fidelity_spam_corrected)}")
    print(f"heralds {rep.heralds} / attempts {rep.attempts}; p_success {_fmt(rep.p_success, 6)}")
    print(f"rate {rep.rate_lab.value:.4g} s⁻¹ (lab), {rep.rate_wall.value:.4g} s⁻¹ (wall)")
    return 0


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x).__name__)


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report
    from .summary import fidelity_summary

    paths = _expand(args)
    rep = fidelity_summary(paths, cl=args.cl, n_boot=args.bootstrap, seed=args.seed, progress=_progress(args))
    if args.output:
        out = Path(args.output)
    else:
        suffix = "-combined" if len(paths) > 1 else ""
        out = paths[0].with_name(paths[0].stem + suffix + "-report")
    formats = ("md", "html") if args.format == "both" else (args.format,)
    try:
        written = write_report(rep, out, formats=formats)
    except OSError as e:
        raise AnalysisError(out, f"cannot write report: {e.strerror or e}") from e
    for w in written:
        print(w)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    infos = []
    for p in args.paths:
        r = load(p)
        infos.append({
            "file": str(r.path), "artiq_version": r.artiq_version, "rid": r.rid, "start_time": r.start_time,
            "run_time": r.run_time, "expid": r.expid, "schema_version": r.schema_version, "experiment": r.experiment,
            "datasets": {k: {"shape": list(i.shape), "dtype": i.dtype, **i.attrs} for k, i in r.datasets.items()},
            "archive": sorted(r.archive),
        })
    if args.json:
        print(json.dumps(infos, indent=2, default=_json_default))
        return 0
    for d in infos:
        print(f"{d['file']}: ARTIQ {d['artiq_version']}, rid {d['rid']}, class "
              f"{(d['expid'] or {}).get('class_name') if isinstance(d['expid'], dict) else None}, "
              f"schema {d['schema_version']}, experiment {d['experiment']}")
        for k, v in d["datasets"].items():
            print(f"  {k}  {v['dtype']}{v['shape']}")
    return 0


def _cmd_find(args: argparse.Namespace) -> int:
    for p in _find(Path(args.root), args):
        print(p)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input or usage)."""
    args = _parser().parse_args(argv)
    debug = args.debug
    try:
        return {"fidelity": _cmd_fidelity, "report": _cmd_report, "info": _cmd_info, "find": _cmd_find}[args.cmd](args)
    except AnalysisError as e:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line without --debug, as promised
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {' '.join(getattr(args, 'paths', []) or [])}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
