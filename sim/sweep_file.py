# SPDX-License-Identifier: LGPL-3.0-or-later
"""The sweep file: one HDF5 file per sweep, rewritten (atomically) as its points finish.

Layout (docs/datasets.md, "Sweep files"):

- ``/sweep/points``: the table, one row per point in sweep order (a compound dataset): ``index``,
  ``seed_index``, ``seed``, one column per swept parameter (its dotted key), ``status`` (``done``,
  ``failed``, ``pending``), the measured ``p_success``, ``rate_hz``, ``fidelity`` each with
  ``_ci_low``/``_ci_high`` (95 %), ``heralds``, ``attempts``, the budget's ``budget_p_success``,
  ``budget_rate_hz``, ``budget_fidelity``, and ``error``, ``note``, ``results_file``, ``worker``,
  ``wall_s``. Missing numbers are NaN. Attributes: ``definition`` (the sweep's definition, JSON),
  ``parameters`` (the swept keys, JSON), ``format`` (``ionlink sweep 1``).
- ARTIQ's results-file layout around it (``rid``, ``start_time``, ``run_time``,
  ``artiq_version``, ``expid``), and under ``datasets/`` the layout ndscan's viewer reads
  (``ndscan_show``, schema revision 2): ``ndscan.ndscan_schema_revision`` = 2, ``ndscan.axes``
  and ``ndscan.channels`` (JSON), ``ndscan.points.axis_<i>`` (the swept parameters),
  ``ndscan.points.channel_<name>`` (the figures above), ``ndscan.completed``,
  ``ndscan.source_id``, ``ndscan.online_analyses``, ``ndscan.annotations``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sim.sweep_point import PointRecord

__all__ = ["FORMAT", "FIGURES", "write_sweep_file"]

FORMAT = "ionlink sweep 1"
#: figure columns of the table (each also with ``_ci_low``/``_ci_high``) and their descriptions
FIGURES = {
    "p_success": "success probability per attempt",
    "rate_hz": "heralds per second of lab time (s⁻¹)",
    "fidelity": "Bell-state fidelity (with SPAM)",
}
_BUDGET = {
    "budget_p_success": "budget: success probability per attempt",
    "budget_rate_hz": "budget: heralded rate (s⁻¹)",
    "budget_fidelity": "budget: measured fidelity (with SPAM)",
}
_TEXT = ("status", "error", "note", "results_file", "worker")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _columns(parameters: Sequence[str], points: Sequence[dict[str, Any]]) -> list:
    numeric = {key: all(_is_number(p["parameters"][key]) for p in points) for key in parameters}
    text = h5py.string_dtype()
    cols: list = [("index", "i8"), ("seed_index", "i8"), ("seed", "i8")]
    cols += [(key, "f8" if numeric[key] else text) for key in parameters]
    cols += [("status", text)]
    for name in FIGURES:
        cols += [(name, "f8"), (name + "_ci_low", "f8"), (name + "_ci_high", "f8")]
    cols += [("heralds", "i8"), ("attempts", "i8")]
    cols += [(name, "f8") for name in _BUDGET]
    cols += [(name, text) for name in _TEXT if name != "status"]
    cols += [("wall_s", "f8")]
    return cols


def _text(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _table(
    points: Sequence[dict[str, Any]], parameters: Sequence[str], records: dict[int, PointRecord]
) -> np.ndarray:
    ordered = [records.get(int(p["index"])) for p in points]
    table = np.zeros(len(points), dtype=_columns(parameters, points))
    for row, (point, rec) in enumerate(zip(points, ordered)):
        t = table[row]
        t["index"], t["seed_index"], t["seed"] = point["index"], point["seed_index"], point["seed"]
        for key in parameters:
            value = point["parameters"][key]
            t[key] = value if table.dtype[key].kind == "f" else json.dumps(value)
        if rec is None:
            t["status"] = "pending"
            for name in table.dtype.names or ():
                if table.dtype[name].kind == "f" and name not in parameters:
                    t[name] = float("nan")
            for name in _TEXT[1:]:
                t[name] = ""
            continue
        t["status"] = "failed" if rec.error is not None else "done"
        for name in FIGURES:
            iv = getattr(rec, name)
            t[name], t[name + "_ci_low"], t[name + "_ci_high"] = (
                _num(iv.value),
                _num(iv.ci_low),
                _num(iv.ci_high),
            )
        t["heralds"], t["attempts"] = rec.heralds, rec.attempts
        for name in _BUDGET:
            t[name] = _num(rec.budget.get(name[len("budget_") :]))
        t["error"] = rec.error or ""
        t["note"], t["results_file"], t["worker"] = rec.note, rec.results_file, rec.worker
        t["wall_s"] = rec.wall_s
    return table


def _ndscan(datasets: Any, table: np.ndarray, axes: Sequence[dict[str, Any]], done: bool) -> None:
    """The ndscan schema-revision-2 datasets under ``datasets`` (``ndscan.`` prefix)."""
    prefix = "ndscan."
    axis_desc = []
    for i, axis in enumerate(axes):
        description = axis["key"]
        column = table[axis["key"]]
        if all(_is_number(v) for v in axis["values"]):
            values = np.asarray(axis["values"], dtype=float)
            column = column.astype(float)
        else:  # text values (e.g. arg.mode): the axis is the index of the value
            texts = [json.dumps(v) for v in axis["values"]]
            values = np.arange(len(texts), dtype=float)
            column = np.array([texts.index(_text(v)) for v in column], dtype=float)
            description += " ({})".format(", ".join(f"{k}: {t}" for k, t in enumerate(texts)))
        spec: dict[str, Any] = {"is_scannable": True, "scale": 1.0, "step": 0.0}
        axis_desc.append(
            {
                "param": {
                    "fqn": "ionlink.sweep." + axis["key"],
                    "description": description,
                    "type": "float",
                    "default": str(values[0]),
                    "spec": spec,
                },
                "path": "*",
                "min": float(values.min()),
                "max": float(values.max()),
            }
        )
        datasets[prefix + "points.axis_{}".format(i)] = column
    channels: dict[str, Any] = {}
    for priority, (name, description) in enumerate(reversed(list(FIGURES.items()))):
        channels[name] = {"path": name, "description": description, "type": "float"}
        channels[name]["display_hints"] = {"priority": priority + 1}
        for bound in ("_ci_low", "_ci_high"):
            channels[name + bound] = {
                "path": name + bound,
                "description": "{}: {} of the 95 % interval".format(description, bound[4:]),
                "type": "float",
                "display_hints": {"priority": -1},
            }
    for name, description in _BUDGET.items():
        channels[name] = {"path": name, "description": description, "type": "float"}
    channels["seed"] = {"path": "seed", "description": "simulation seed", "type": "int"}
    channels["seed"]["display_hints"] = {"priority": -1}
    for name in channels:
        datasets[prefix + "points.channel_" + name] = table[name]
    datasets[prefix + "ndscan_schema_revision"] = 2
    datasets[prefix + "axes"] = json.dumps(axis_desc)
    datasets[prefix + "channels"] = json.dumps(channels)
    datasets[prefix + "fragment_fqn"] = "ionlink.sweep"
    datasets[prefix + "source_id"] = "rid_0"
    datasets[prefix + "completed"] = done
    datasets[prefix + "online_analyses"] = "{}"
    datasets[prefix + "annotations"] = "[]"
    datasets[prefix + "seed"] = 0


def write_sweep_file(
    path: str | os.PathLike[str],
    definition: dict[str, Any],
    points: Sequence[dict[str, Any]],
    records: dict[int, PointRecord],
    *,
    start_time: float,
) -> None:
    """Write the sweep file (layout in the module docstring) under a temporary name and rename it.

    :param definition: JSON-ready definition; ``axes`` (``key``, ``values``) and ``parameters``.
    :param points: ``index``, ``seed_index``, ``seed``, ``parameters`` of every point.
    :param records: the finished points' records by index.
    """
    from comms.pyon import encode

    path = Path(path)
    parameters = list(definition["parameters"])
    table = _table(points, parameters, records)
    done = len(records) == len(points)
    tmp = path.with_name(".{}.{}.tmp".format(path.name, os.getpid()))
    try:
        with h5py.File(tmp, "w") as f:
            f["rid"] = 0
            f["start_time"] = start_time
            f["run_time"] = start_time
            f["artiq_version"] = "ionlink-sim sweep"
            f["expid"] = encode(
                {
                    "file": "ionlink-sim sweep",
                    "class_name": "Sweep",
                    "arguments": {},
                    "log_level": 30,
                }
            )
            group = f.create_group("sweep")
            group.attrs["format"] = FORMAT
            group.attrs["definition"] = json.dumps(definition)
            group.attrs["parameters"] = json.dumps(parameters)
            group.attrs["written"] = time.time()
            group.create_dataset("points", data=table)
            _ndscan(f.create_group("datasets"), table, definition["axes"], done)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
