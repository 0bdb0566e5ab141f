# SPDX-License-Identifier: LGPL-3.0-or-later
"""From the probe's runs to one :class:`~sim.slack.estimate.LineEstimate` per kernel line, and the
table ``ionlink-sim slack`` prints."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sim.slack.estimate import DEFAULT_TARGET, LineEstimate, estimate_line
from sim.slack.probe import RunSlack

__all__ = ["summarise", "format_table", "split_source"]


def split_source(where: str) -> tuple[str, int]:
    """``("file", line)`` of a ``file:line`` source (the file relative to the working directory
    when it lies below it)."""
    file, _, line = where.rpartition(":")
    try:
        rel = os.path.relpath(file)
    except ValueError:  # another drive (Windows)
        rel = file
    return (file if rel.startswith("..") else rel), int(line) if line.isdigit() else 0


def summarise(
    nominal: RunSlack | None, runs: Sequence[RunSlack], target: float = DEFAULT_TARGET
) -> list[LineEstimate]:
    """One estimate per line that submitted in the drawn ``runs`` (lowest margin headroom first:
    sorted by ``nominal − margin``, then by file and line)."""
    lines = sorted({w for r in runs for w in r.lines})
    out = []
    for i, where in enumerate(lines):
        present = [r.lines.get(where) for r in runs]
        file, line = split_source(where)
        nom = nominal.lines.get(where) if nominal is not None else None
        out.append(
            estimate_line(
                file,
                line,
                [None if p is None else (p.values, p.counts) for p in present],
                sum(1 for p in present if p is not None and p.underflows),
                None if nom is None else nom.min_mu,
                target=target,
                seed=i,
            )
        )

    def headroom(e: LineEstimate) -> float:
        ref = e.nominal_min_slack_mu if e.nominal_min_slack_mu is not None else e.median_slack_mu
        return ref - e.margin_mu

    return sorted(out, key=lambda e: (headroom(e), e.file, e.line))


def _p(x: float) -> str:
    """A probability for the table (below 10⁻¹² the fitted tail says nothing useful)."""
    if x == 0:
        return "0"
    return "<1e-12" if x < 1e-12 else f"{x:.2g}"


def format_table(estimates: Sequence[LineEstimate], title: str) -> str:
    """The text table: one row per line, slack in mu."""
    head = (
        "line",
        "events",
        "nominal",
        "min",
        "q0.1%",
        "median",
        "underflows",
        "p_underflow [95% CI]",
        "margin",
    )
    rows = [head]
    for e in estimates:
        rows.append(
            (
                f"{e.file}:{e.line}",
                str(e.events),
                "-" if e.nominal_min_slack_mu is None else str(e.nominal_min_slack_mu),
                str(e.min_slack_mu),
                f"{e.q001_slack_mu:.0f}",
                f"{e.median_slack_mu:.0f}",
                f"{e.underflow_runs}/{e.runs}",
                f"{_p(e.p_underflow)} [{_p(e.p_underflow_ci[0])}, {_p(e.p_underflow_ci[1])}]",
                str(e.margin_mu),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [title]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
