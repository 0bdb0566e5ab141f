# SPDX-License-Identifier: LGPL-3.0-or-later
"""Sweep files (``ionlink-sim sweep``): reading their table, the points as records, and the plot of
each figure against the swept parameter beside the error budget's curve.

The file's layout is in docs/datasets.md ("Sweep files"): the table ``/sweep/points`` (one row
per point) with the sweep's definition and swept keys as attributes. :func:`read_sweep` is the I/O;
:func:`sweep_points` and :func:`figure_series` are pure (the table in, records or arrays out).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .io import AnalysisError, SchemaError, _open

__all__ = ["FIGURES", "Series", "SweepTable", "figure_series", "plot_sweep", "read_sweep"]

FORMAT = "ionlink sweep 1"
#: figure → (axis label, budget column)
FIGURES = {
    "p_success": ("P per attempt", "budget_p_success"),
    "rate_hz": ("heralded rate (s⁻¹, lab time)", "budget_rate_hz"),
    "fidelity": ("fidelity F (with SPAM)", "budget_fidelity"),
}


@dataclass(frozen=True)
class SweepTable:
    """A sweep file's table: the definition, the swept keys and the rows (structured array)."""

    path: Path
    definition: dict[str, Any]
    parameters: list[str]
    rows: np.ndarray


@dataclass(frozen=True)
class Series:
    """One figure against one swept parameter: every point (x, value, interval) and the budget's
    value at each distinct x."""

    x: np.ndarray
    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    budget_x: np.ndarray
    budget: np.ndarray


def read_sweep(path: str | os.PathLike[str]) -> SweepTable:
    """Read a sweep file. :raises AnalysisError: missing, a folder, not HDF5 or unreadable (the
    results files' checks, :func:`analysis.io.load`), or not a sweep file."""
    p = Path(path)
    with _open(p) as f:
        group = f.get("sweep")
        if group is None or group.attrs.get("format") != FORMAT:
            raise SchemaError(p, "not a sweep file of ionlink-sim sweep (no /sweep table)")
        return SweepTable(
            p,
            json.loads(group.attrs["definition"]),
            list(json.loads(group.attrs["parameters"])),
            group["points"][()],
        )


def _text(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def _parameter(table: SweepTable, row: np.void, key: str) -> Any:
    value = row[key]
    if table.rows.dtype[key].kind == "f":
        return float(value)
    return json.loads(_text(value))


def sweep_points(table: SweepTable) -> list[dict[str, Any]]:
    """Every point as a JSON-ready record: ``index``, ``parameters`` (dotted keys → values),
    ``seed``, ``seed_index``, ``status``, ``p_success``, ``rate_hz``, ``fidelity`` (each
    ``value``, ``ci_low``, ``ci_high``; ``null`` where unknown), ``heralds``, ``attempts``,
    ``budget`` (``p_success``, ``rate_hz``, ``fidelity``), ``error`` (``null`` when the point
    ran), ``note``, ``results_file``, ``worker``."""
    out = []
    for row in table.rows:
        status = _text(row["status"])
        error = _text(row["error"])
        out.append(
            {
                "index": int(row["index"]),
                "parameters": {k: _parameter(table, row, k) for k in table.parameters},
                "seed": int(row["seed"]),
                "seed_index": int(row["seed_index"]),
                "status": status,
                **{
                    name: {
                        "value": _num(row[name]),
                        "ci_low": _num(row[name + "_ci_low"]),
                        "ci_high": _num(row[name + "_ci_high"]),
                    }
                    for name in FIGURES
                },
                "heralds": int(row["heralds"]),
                "attempts": int(row["attempts"]),
                "budget": {name: _num(row[budget]) for name, (_, budget) in FIGURES.items()},
                "error": error if status == "failed" else None,
                "note": _text(row["note"]),
                "results_file": _text(row["results_file"]),
                "worker": _text(row["worker"]),
            }
        )
    return out


def _finite_mean(values: np.ndarray) -> float:
    """Mean of the finite values, NaN when there are none (points without a budget)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def figure_series(table: SweepTable, figure: str, parameter: str) -> Series:
    """``figure`` of every finished point against the numeric ``parameter``, and the budget's
    value per distinct parameter value (the mean over the other swept keys' values)."""
    rows = table.rows
    if parameter not in table.parameters or rows.dtype[parameter].kind != "f":
        raise SchemaError(table.path, f"{parameter!r} is not a numeric swept parameter")
    x = rows[parameter].astype(float)
    ok = np.array([_text(s) == "done" for s in rows["status"]], dtype=bool)
    bx = np.unique(x)
    budget_col = rows[FIGURES[figure][1]].astype(float)
    budget = np.array([_finite_mean(budget_col[x == v]) for v in bx])
    return Series(
        x[ok],
        rows[figure][ok].astype(float),
        rows[figure + "_ci_low"][ok].astype(float),
        rows[figure + "_ci_high"][ok].astype(float),
        bx,
        budget,
    )


def plot_sweep(
    table: SweepTable, out: str | os.PathLike[str], parameter: str | None = None
) -> Path:
    """One panel per figure against ``parameter`` (default: the first swept key): every point
    with its 95 % interval (seeds side by side), the mean over seeds, and the budget's curve.
    Writes a PNG; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = [k for k in table.parameters if table.rows.dtype[k].kind == "f"]
    if not numeric:
        raise SchemaError(table.path, "the sweep has no numeric swept parameter to plot against")
    key = parameter or numeric[0]
    figures = [f for f in FIGURES if not table.definition.get("budget_only")]
    figures = figures or list(FIGURES)
    fig, axes = plt.subplots(len(figures), 1, figsize=(6.4, 2.6 * len(figures)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, figures):
        s = figure_series(table, name, key)
        span = float(np.ptp(s.budget_x)) if len(s.budget_x) > 1 else 1.0
        seeds = max(int(table.definition.get("seeds", 1)), 1)
        idx = table.rows["seed_index"][
            [i for i, st in enumerate(table.rows["status"]) if _text(st) == "done"]
        ]
        dx = (idx.astype(float) - (seeds - 1) / 2) * span * 0.006
        have = np.isfinite(s.value)
        if np.any(have):
            lo = np.clip(s.value - s.ci_low, 0, None)
            hi = np.clip(s.ci_high - s.value, 0, None)
            ax.errorbar(
                (s.x + dx)[have],
                s.value[have],
                yerr=[np.nan_to_num(lo[have]), np.nan_to_num(hi[have])],
                fmt="o",
                ms=3,
                alpha=0.5,
                capsize=0,
                label="simulated point (95 % interval)",
            )
            means = [np.nanmean(s.value[(s.x == v) & have]) for v in s.budget_x]
            ax.plot(s.budget_x, means, "s", color="C1", ms=6, label="mean over seeds")
        if np.any(np.isfinite(s.budget)):  # none where the budget does not model the point
            ax.plot(s.budget_x, s.budget, "-", color="k", lw=1.2, label="error budget")
        ax.set_ylabel(FIGURES[name][0])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    axes[-1].set_xlabel(key)
    lab = table.definition.get("lab", "")
    fig.suptitle(
        f"sweep of {key} at {lab}: {len(table.rows)} points "
        f"({table.definition.get('seeds', 1)} seeds each)",
        fontsize=9,
    )
    fig.tight_layout()
    path = Path(out)
    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        raise AnalysisError(path, f"cannot write the plot: {e.strerror or e}") from e
    finally:
        plt.close(fig)
    return path


def summary_lines(points: Sequence[dict[str, Any]], parameters: Sequence[str]) -> list[str]:
    """A text table of the points (one line each)."""

    def f(iv: dict[str, Any], fmt: str) -> str:
        if iv["value"] is None:
            return "–"
        return (fmt + " [" + fmt + ", " + fmt + "]").format(
            iv["value"], iv["ci_low"] or math.nan, iv["ci_high"] or math.nan
        )

    lines = []
    for p in points:
        par = " ".join(f"{k}={p['parameters'][k]}" for k in parameters)
        if p["status"] != "done":
            lines.append(
                f"{p['index']:>4} {par} seed#{p['seed_index']}: {p['status']} {p['error'] or ''}"
            )
            continue
        b = p["budget"]
        if all(v is None for v in b.values()):  # the note says why (an argument not modelled)
            budget = next(
                (n for n in p["note"].split("; ") if n.startswith("no budget")), "no budget"
            )
        else:
            budget = (
                f"budget P {b['p_success'] or math.nan:.3g}, "
                f"R {b['rate_hz'] or math.nan:.4g}, F {b['fidelity'] or math.nan:.3f}"
            )
        lines.append(
            f"{p['index']:>4} {par} seed#{p['seed_index']}: P {f(p['p_success'], '{:.3g}')}  "
            f"R {f(p['rate_hz'], '{:.4g}')} s⁻¹  F {f(p['fidelity'], '{:.3f}')}  ({budget})"
        )
    return lines
