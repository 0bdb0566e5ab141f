# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which runs may be pooled into one estimate: the same run given twice (or its copy) is refused,
as are runs simulated at different lab descriptions, runs calibrated with uncalibrated ones, and
runs whose settings a pooled estimate needs to agree (:func:`check_combinable`). Pure functions
of loaded :class:`~analysis.io.Run` objects."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .io import Run, SchemaError

__all__ = [
    "SIM_LAB_KEYS",
    "UNCALIBRATED",
    "SameRun",
    "check_calibrated_alike",
    "check_combinable",
    "check_distinct",
    "same_runs",
    "uncalibrated",
    "uncalibrated_note",
]


#: the simulator's record of the lab description a run was simulated at (name, file digest, the
#: ``--set`` values applied to it); written by ``sim.provenance``, absent from hardware runs
SIM_LAB_KEYS = (
    "ionlink.sim.provenance.lab_name",
    "ionlink.sim.provenance.lab_sha256",
    "ionlink.sim.provenance.lab_overrides",
)


def _lab_of(run: Run) -> tuple[Any, ...]:
    return tuple(run.values.get(k) or None for k in SIM_LAB_KEYS)


def _lab_name(run: Run) -> str:
    name, digest, overrides = _lab_of(run)
    if name is None and digest is None:
        return "no simulated lab (a hardware run)"
    changed = f", with --set {overrides}" if overrides else ""
    return f"simulated lab {name!r} (description sha256 {str(digest)[:12]}{changed})"


#: the link's record of the calibrations a run lacked (comma-separated dataset keys, empty when
#: calibrated; written by ``drivers.link``): such a run used the default thresholds and gates
UNCALIBRATED = "ionlink.uncalibrated"
#: a simulated run's seed and the end of its timeline: with the same lab and arguments, the same
#: values mean the simulator replayed the same random stream (written by ``sim``)
_SIM_REPLAY_KEYS = ("ionlink.sim.seed", "ionlink.sim.now_mu", "totals.attempts", "totals.heralds")


def uncalibrated(run: Run) -> list[str] | None:
    """The calibration datasets a run was taken without (``[]``: calibrated; ``None``: the file
    does not say)."""
    v = run.values.get(UNCALIBRATED)
    return None if v is None else [k for k in str(v).split(",") if k]


def uncalibrated_note(run: Run) -> str | None:
    """A note for a run taken without its calibrations (None: calibrated, or the file does not
    say)."""
    missing = uncalibrated(run)
    if not missing:
        return None
    return (
        f"{run.path.name}: taken uncalibrated ({', '.join(missing)} not in the dataset store: "
        "the defaults were used)"
    )


_TWICE = "its heralds would be counted twice"


def _identities(run: Run) -> list[tuple[str, Any]]:
    """Keys that are equal for two files only if they hold one run: the file itself (its device
    and inode, so links too); the ARTIQ run (rid, ``start_time`` and ``run_time``: the master's
    ``time.time()`` at build and at run, hardware and simulator alike), so copies too; and for a
    simulated run its random stream (lab, seed, experiment class and arguments, the end of the
    timeline and the totals: a replay of the same seed gives the same outcomes)."""
    keys: list[tuple[str, Any]] = []
    with contextlib.suppress(OSError):
        st = os.stat(run.path)
        keys.append(("file", (st.st_dev, st.st_ino)))
    if None not in (run.rid, run.start_time, run.run_time):
        keys.append(("run", (run.rid, run.start_time, run.run_time)))
    replay = tuple(run.values.get(k) for k in _SIM_REPLAY_KEYS)
    if None not in replay:
        e = run.expid if isinstance(run.expid, dict) else {}
        what = [replay, _lab_of(run), e.get("class_name"), e.get("arguments")]
        keys.append(("replay", json.dumps(what, sort_keys=True, default=str)))
    return keys


def _same_run(kind: str, a: Run) -> tuple[str, str]:
    """How a second file holds ``a``'s run (``kind`` of :func:`_identities`), and what to do."""
    if kind == "file":
        return "the same file given twice", "give each run once"
    if kind == "run":
        when = _dt.datetime.fromtimestamp(a.start_time or 0).isoformat(sep=" ", timespec="seconds")
        return (
            f"one run (rid {a.rid}, started {when}: the same rid, start_time and run_time) "
            "given twice, as copies",
            "give each run once",
        )
    seed, now_mu = (a.values.get(k) for k in _SIM_REPLAY_KEYS[:2])
    return (
        f"one simulated run replayed (seed {seed}, the same lab, arguments and end of the "
        f"timeline, now_mu {now_mu}): the same random stream, not new data",
        "simulate more runs in one session, or with another --seed",
    )


@dataclass(frozen=True)
class SameRun:
    """Two files that hold one run: ``later`` repeats ``first``; ``how`` says how they match,
    ``advice`` what to give instead."""

    first: Run
    later: Run
    how: str
    advice: str


def same_runs(runs: Sequence[Run]) -> list[SameRun]:
    """Every file of ``runs`` that holds a run given before it (the same file, a copy of it, or
    a simulated replay of it), in the order given; each such file once."""
    seen: dict[tuple[str, Any], Run] = {}
    out: list[SameRun] = []
    for b in runs:
        for key in _identities(b):
            a = seen.setdefault(key, b)
            if a is not b:
                out.append(SameRun(a, b, *_same_run(key[0], a)))
                break
    return out


def check_distinct(runs: Sequence[Run]) -> None:
    """Refuse one run given twice (the same file, a copy of it, or a simulated replay of it):
    combined with itself it would count its heralds twice and narrow every interval.

    :raises SchemaError: naming both files
    """
    for same in same_runs(runs)[:1]:
        raise SchemaError(
            [same.first.path, same.later.path], f"{same.how}: {_TWICE}; {same.advice}"
        )


def check_calibrated_alike(runs: Sequence[Run]) -> None:
    """Refuse to combine runs taken without calibrations (:data:`UNCALIBRATED`) with runs taken
    with them: their readout thresholds and photon gates differ, so one estimate over both
    describes neither. Runs whose files do not say count as calibrated.

    :raises SchemaError: naming the uncalibrated files
    """
    bare = [r for r in runs if uncalibrated(r)]
    calibrated = [r for r in runs if not uncalibrated(r)]
    if bare and calibrated:
        raise SchemaError(
            [r.path for r in bare],
            f"taken uncalibrated ({UNCALIBRATED}: {', '.join(uncalibrated(bare[0]) or [])}), "
            f"cannot combine with the {len(calibrated)} calibrated run(s) (e.g. "
            f"{calibrated[0].path.name}): their thresholds and gates differ; analyse them "
            "separately (--per-run, or select with --rid/--since)",
        )


def check_combinable(runs: Sequence[Run], keys: Iterable[str]) -> None:
    """Refuse to combine one run given twice (:func:`check_distinct`), runs whose schema differs
    (version, experiment kind, datasets, dtypes), runs simulated at different labs (or one
    simulated, one not), runs heralded differently (gateware, CPU), or calibrated with
    uncalibrated runs (:func:`check_calibrated_alike`): one estimate over different physics, or
    over one run counted twice, would be wrong.

    :raises SchemaError: naming the first file that differs from the first run
    """
    if len(runs) < 2:
        return
    check_distinct(runs)
    ref = runs[0]
    keys = list(keys)
    for r in runs[1:]:
        if _lab_of(r) != _lab_of(ref):
            raise SchemaError(
                r.path,
                f"cannot combine with {ref.path.name}: this run was taken at {_lab_name(r)}, "
                f"that one at {_lab_name(ref)}; analyse each lab's runs separately",
            )
        ha, hb = ref.values.get("ionlink.heralding"), r.values.get("ionlink.heralding")
        if ha is not None and hb is not None and str(ha) != str(hb):
            raise SchemaError(
                r.path,
                f"cannot combine with {ref.path.name}: this run was heralded by {hb}, that one "
                f"by {ha} (ionlink.heralding): their attempt and herald rates differ; analyse "
                "them separately (--per-run, or select with --rid/--since)",
            )
        for what, a, b in (
            ("schema_version", ref.schema_version, r.schema_version),
            ("ionlink.experiment", ref.experiment, r.experiment),
        ):
            if a != b:
                raise SchemaError(
                    r.path, f"cannot combine with {ref.path.name}: {what} {b!r} differs from {a!r}"
                )
        for k in keys:
            ia, ib = ref.datasets.get(k), r.datasets.get(k)
            if (ia is None) != (ib is None):
                has = ref.path.name if ia is not None else r.path.name
                raise SchemaError(
                    r.path, f"cannot combine with {ref.path.name}: dataset '{k}' only in {has}"
                )
            if ia is not None and ib is not None:
                if (
                    np.dtype(ia.dtype).kind != np.dtype(ib.dtype).kind
                    or ia.shape[1:] != ib.shape[1:]
                ):
                    raise SchemaError(
                        r.path,
                        f"cannot combine with {ref.path.name}: "
                        f"dataset '{k}' is {ib.dtype}{list(ib.shape)}, "
                        f"not {ia.dtype}{list(ia.shape)}",
                    )
    check_calibrated_alike(runs)
