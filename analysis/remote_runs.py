# SPDX-License-Identifier: LGPL-3.0-or-later
"""Reading remote-entanglement runs for the fidelity summary (the I/O half of it).

:func:`read_remote_runs` checks that the files hold what the summary needs, reads their totals into
:class:`RunTotals` records and streams the per-herald arrays chunk by chunk into one
:class:`~analysis.herald_table.HeraldTables` (photon tags in one pass through one buffer). The
result, :class:`RemoteData`, is what the pure reduction (:func:`analysis.summary.reduce_fidelity`)
takes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import heralds as hs
from .herald_table import HeraldTables, reduce_chunk
from .io import (
    DEFAULT_CHUNK_ROWS,
    AnalysisError,
    DataError,
    MissingDataError,
    Run,
    SchemaError,
    load,
    require,
)
from .photons import IncrementalHistogram
from .pooling import check_combinable, uncalibrated_note
from .stop_reason import COUNTED_TO_LAST_HERALD, STOPPED_AT_ONCE, early_note

__all__ = [
    "REQUIRED",
    "SCAN_KEYS",
    "PlayedGate",
    "RemoteData",
    "RunTotals",
    "played_gate",
    "read_remote_runs",
]

#: Datasets every fidelity summary needs (plus ``herald.psi`` or ``herald.pattern``).
REQUIRED = [
    "ionlink.experiment",
    "mode",
    "herald.basis_a",
    "herald.basis_b",
    "herald.bit_a",
    "herald.bit_b",
    "totals.attempts",
    "totals.heralds",
    "totals.lab_time_s",
    "totals.wall_time_s",
]
#: Extra datasets of a parity scan.
SCAN_KEYS = ["herald.phase"]
_OPTIONAL_ROWS = [
    "herald.pattern",
    "herald.psi",
    "herald.attempts",
    "herald.t_lab_mu",
    "herald.t_det_mu",
]
_HERALD_ROWS = ["herald.basis_a", "herald.basis_b", "herald.bit_a", "herald.bit_b"]
#: at most this many rows of the per-herald arrays are reduced at a time: the reduction's
#: temporaries (≤ 1 MiB each) are then reused by the allocator from chunk to chunk instead of
#: being fresh pages (on a 10⁶-herald run, faulting in fresh pages cost more than the passes)
HERALD_CHUNK_ROWS = 1 << 17
#: photon tags a core at least before a run's tags are counted by several threads (below, the
#: threads' start costs more than they save)
TAG_SHARE_ROWS = 1 << 22


#: the archived calibration of the detection gate a link experiment plays (mu from the excitation)
GATE_KEYS = ("calib.photon.gate_start_mu", "calib.photon.gate_stop_mu")
#: the archived loop design of the excitation's start in the cycle (s), and the experiment
#: argument that overrides it (``drivers.link.Link.build_pulse_timing``)
EXCITE_KEY = "calib.link.excite_time_s"
EXCITE_ARGUMENT = "excite_time"


@dataclass(frozen=True)
class PlayedGate:
    """Where a run's detection gate sat in its attempt cycle: what turns the click times
    (``herald.t_det_mu``, mu from the attempt cycle's start) into the gate's own convention
    ([start, stop) in mu from the excitation pulse start, as ``calib.photon.gate_start_mu``/
    ``gate_stop_mu`` and ``ionlink-sim budget --detection-gate``).

    :param excite_mu: the excitation pulse start the run played, in mu from the attempt cycle's
        start; ``None`` when the file does not say (``unknown`` says why)
    :param gate_mu: the gate [start, stop) the run played, in mu from the excitation (its
        archived ``calib.photon.gate_start_mu``/``gate_stop_mu``); ``None`` when not archived
    :param unknown: why ``excite_mu`` is ``None`` (empty otherwise)
    """

    excite_mu: int | None
    gate_mu: tuple[int, int] | None = None
    unknown: str = ""


@dataclass(frozen=True)
class RunTotals:
    """The scalars of one run the summary uses (times in s)."""

    path: str
    mode: str
    attempts: int
    heralds: int
    lab_time_s: float
    wall_time_s: float
    duty_cycle: float | None  #: ``totals.duty_cycle``, if the run has it
    stop_reason: str | None = None  #: ``totals.stop_reason``, if the run has it
    requested: int | None = None  #: ``totals.heralds_requested``, if the run has it
    stopped_at_once: str | None = None  #: the signal that stopped the run at once, if one did
    #: its attempts and lab time counted to its last herald (its kernel sent no totals)
    counted_to_last_herald: bool = False
    #: where its gate sat (read for the detection-window trade-off; ``None``: not read)
    played: PlayedGate | None = None


@dataclass
class RemoteData:
    """Everything the fidelity reduction needs, read from one or several runs.

    :param runs: per-run totals, in the order of the files
    :param tables: per-herald reductions of all runs (outcome codes, patterns, attempts, times)
    :param edges: attempts-per-herald bin edges the tables were filled with
    :param readout_errors: ``(readout.error_a, readout.error_b)`` per run; ``None`` if a run
        lacks them
    :param readout_sigmas: ``(readout.error_sigma_a, readout.error_sigma_b)`` per run, their
        calibration's standard errors; ``None`` if a run lacks them (files before they were
        recorded)
    :param notes: what reading noted (detection-time phase corrections)
    :param heralding: the runs' heralding path (``ionlink.heralding``; ``None`` where a file
        does not say)
    :param labs: the simulated labs the runs were taken in (:func:`simulated_labs`)
    """

    runs: list[RunTotals]
    schema_version: int
    experiment: str
    tables: HeraldTables
    edges: np.ndarray
    readout_errors: list[tuple[float, float]] | None
    notes: list[str] = field(default_factory=list)
    readout_sigmas: list[tuple[float, float]] | None = None
    heralding: str | None = None
    labs: tuple[str, ...] = ()

    @property
    def files(self) -> list[str]:
        return [r.path for r in self.runs]

    @property
    def modes(self) -> list[str]:
        return [r.mode for r in self.runs]


def _scalar(run: Run, key: str, kind: type) -> Any:
    v = run.values.get(key)
    try:
        x = kind(np.asarray(v).item())
    except (TypeError, ValueError) as e:
        raise DataError(run.path, f"{key} is not a {kind.__name__} scalar (got {v!r})") from e
    if kind is float and not np.isfinite(x):
        raise DataError(run.path, f"{key} is NaN or inf")
    return x


def _runs_and_checks(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Run], list[str]]:
    if not paths:
        raise AnalysisError("<no files>", "no input files")
    runs = [load(p) for p in paths]
    modes = []
    for r in runs:
        if not r.datasets:
            raise DataError(r.path, "empty file: no datasets")
        if r.experiment != "remote_entanglement" and r.experiment is not None:
            # before the datasets: a calibration's file lacks them all, its kind says why
            other = (
                "ionlink-analyze gate reads it"
                if r.experiment == "remote_gate"
                else "ionlink-analyze report summarises it"
            )
            raise SchemaError(
                r.path,
                f"ionlink.experiment is {r.experiment!r}, not a remote-entanglement run; "
                f"the fidelity summary needs 'remote_entanglement' ({other})",
            )
        require(r, REQUIRED, "the fidelity summary")  # (ionlink.experiment among them)
        if "herald.psi" not in r and "herald.pattern" not in r:
            raise MissingDataError(
                r.path, "the fidelity summary needs herald.psi or herald.pattern; both missing"
            )
        mode = str(r.values["mode"])
        if mode not in ("z", "parity", "tomography"):
            raise DataError(
                r.path, f"unknown mode {mode!r} (expected 'z', 'parity' or 'tomography')"
            )
        if mode == "parity":
            require(r, SCAN_KEYS, "a parity-scan fidelity")
        modes.append(mode)
    if len(set(modes)) > 1 and set(modes) != {"z", "parity"}:
        raise SchemaError(
            [str(r.path) for r in runs], f"cannot combine runs of modes {sorted(set(modes))}"
        )
    check_combinable(runs, REQUIRED + _OPTIONAL_ROWS)
    return runs, modes


def played_gate(run: Run) -> PlayedGate:
    """Where ``run`` played its detection gate, as the link experiments define it
    (``drivers.gateware_loop``, ``repository/remote_entanglement_cpu.py``): the excitation starts
    at the ``excite_time`` argument if the run was given one, else at the archived
    ``calib.link.excite_time_s`` it defaulted to, rounded to the nearest mu (1 mu = 1 ns) and, on
    the gateware, down to the entangler's 8 ns steps; the gate is the archived
    ``calib.photon.gate_start_mu``/``gate_stop_mu`` after it. A file without its ``expid``
    arguments (``artiq_run -o``) or without either value does not say: no guess (the
    experiment's fallback, or an argument, may have been played)."""
    gate = None
    if all(k in run.archive for k in GATE_KEYS):
        start, stop = (int(np.asarray(run.read(k, "archive")).item()) for k in GATE_KEYS)
        gate = (start, stop)
    args = run.expid.get("arguments") if isinstance(run.expid, dict) else None
    if not isinstance(args, dict):
        why = (
            "its expid records no experiment arguments, so whether an excite_time argument "
            f"overrode {EXCITE_KEY} is unknown"
        )
        return PlayedGate(None, gate, why)
    if EXCITE_ARGUMENT in args:
        value, source = args[EXCITE_ARGUMENT], f"its {EXCITE_ARGUMENT} argument"
    elif EXCITE_KEY in run.archive:
        value, source = run.read(EXCITE_KEY, "archive"), EXCITE_KEY
    else:
        why = (
            f"neither an {EXCITE_ARGUMENT} argument nor {EXCITE_KEY} in its archive (the "
            "experiment played its fallback)"
        )
        return PlayedGate(None, gate, why)
    try:
        seconds = float(np.asarray(value).item())
    except (TypeError, ValueError):
        seconds = float("nan")
    if not (np.isfinite(seconds) and seconds >= 0):
        return PlayedGate(None, gate, f"{source} is not a time ({value!r})")
    mu = int((seconds + 0.5e-9) // 1e-9)  # drivers.link_timing.nearest_mu at 1 ns per mu
    path = run.values.get("ionlink.heralding")
    if path is None:  # files before ionlink.heralding: the experiment's class says
        path = {"RemoteEntanglement": "gateware", "RemoteEntanglementCPU": "cpu"}.get(
            str(run.experiment_class)
        )
    if str(path) == "gateware":
        mu &= ~7  # the entangler's output windows are in coarse (8 ns) steps
    elif path is None and mu % 8:
        why = (
            f"{source} ({mu} mu) is no multiple of 8 ns and the file does not say whether the "
            "gateware (which rounds it down to one) or the CPU played it"
        )
        return PlayedGate(None, gate, why)
    return PlayedGate(mu, gate)


def _totals(run: Run, mode: str, *, gate: bool = False) -> RunTotals:
    duty = run.values.get("totals.duty_cycle")
    stop = run.values.get("totals.stop_reason")
    requested = run.values.get("totals.heralds_requested")
    at_once = run.values.get(STOPPED_AT_ONCE)
    return RunTotals(
        path=str(run.path),
        mode=mode,
        attempts=_scalar(run, "totals.attempts", int),
        heralds=_scalar(run, "totals.heralds", int),
        lab_time_s=_scalar(run, "totals.lab_time_s", float),
        wall_time_s=_scalar(run, "totals.wall_time_s", float),
        duty_cycle=None if duty is None else float(duty),
        stop_reason=None if stop is None else str(stop),
        requested=None if requested is None else _scalar(run, "totals.heralds_requested", int),
        stopped_at_once=None if at_once is None else str(at_once),
        counted_to_last_herald=bool(run.values.get(COUNTED_TO_LAST_HERALD, False)),
        played=played_gate(run) if gate else None,
    )


def stopped_early_note(t: RunTotals) -> str | None:
    """A note for a run that ended before its requested heralds (None: complete or unknown)."""
    of = f" of {t.requested}" if t.requested is not None else ""
    return early_note(
        os.path.basename(t.path),
        t.stop_reason,
        t.stopped_at_once,
        f"{t.heralds}{of} heralds",
        t.counted_to_last_herald,
    )


def read_remote_runs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = False,
    photons: bool = True,
    window: bool = True,
    timing: bool = True,
) -> RemoteData:
    """Check and read remote-entanglement runs into per-herald tables (at most ``chunk_rows`` rows
    of each array in memory; of the per-herald arrays at most :data:`HERALD_CHUNK_ROWS`).

    :param photons: histogram ``photons.t_mu`` (else the arrival histogram uses ``herald.t_det_mu``)
    :param window: keep each herald's last click time, and read where each run's gate sat
        (:func:`played_gate`), for the detection-window trade-off
    :param timing: read photon timing at all; ``False`` reads neither ``photons.t_mu``,
        ``herald.t_det_mu`` (unless a detection-time phase needs it) nor ``herald.t_lab_mu``
    :raises AnalysisError: (subclasses) on any bad input, naming the file
    """
    runs, modes = _runs_and_checks(list(paths))
    totals = [_totals(r, m, gate=timing and window) for r, m in zip(runs, modes)]
    names = [t.path for t in totals]
    attempts = sum(t.attempts for t in totals)
    n_h = sum(t.heralds for t in totals)
    if n_h == 0:
        raise DataError(names, f"zero heralds ({attempts} attempts)")
    for run, t in zip(runs, totals):  # each run (a sum over a folder would hide a broken one)
        if t.attempts < t.heralds:
            at_once = run.values.get(STOPPED_AT_ONCE)
            why = (
                f": the run was stopped at once (a second {at_once}) before it recorded its "
                "totals; analyse the other runs without it"
                if at_once is not None
                else ""
            )
            raise DataError(
                [t.path], f"totals.attempts ({t.attempts}) < totals.heralds ({t.heralds}){why}"
            )
    edges = hs.geometric_edges(n_h / attempts)
    use_tags = timing and photons and any(_has_tags(r) for r in runs)
    acc = HeraldTables(
        want_t_last=timing and window, want_det_hist=timing and not use_tags, want_t_lab=timing
    )
    notes = [n for n in map(stopped_early_note, totals) if n is not None]
    notes += [n for n in map(uncalibrated_note, runs) if n is not None]
    skip = set() if timing else {"herald.t_det_mu", "herald.t_lab_mu"}
    if timing and not window and use_tags:
        skip.add("herald.t_det_mu")
    for i_run, (r, mode, tot) in enumerate(zip(runs, modes, totals)):
        acc.run_index = i_run
        phase_hz = _detection_phase_hz(r, mode, notes)
        keys = [
            k
            for k in _HERALD_ROWS + _OPTIONAL_ROWS
            if k in r and (k not in skip or (phase_hz and k == "herald.t_det_mu"))
        ]
        if mode == "parity":
            keys.append("herald.phase")
        n_rows = r.datasets[keys[0]].shape[0] if r.datasets[keys[0]].shape else 0
        if n_rows != tot.heralds:
            raise DataError(
                r.path,
                f"shape mismatch: totals.heralds = {tot.heralds} "
                f"but herald arrays have {n_rows} rows",
            )
        if skip:  # arrays not read must still be per-herald arrays of the same length
            for k in skip & set(r.datasets):
                shp = r.datasets[k].shape
                if (shp[0] if shp else 0) != n_rows:
                    raise DataError(
                        r.path,
                        f"shape mismatch: per-herald arrays differ in length ({keys[0]} has "
                        f"{n_rows}, {k} has {shp[0] if shp else 0} rows)",
                    )
        for chunk in r.iter_chunks(
            keys,
            rows=min(chunk_rows, HERALD_CHUNK_ROWS),
            progress=progress,
            desc=f"{r.path.name} heralds",
        ):
            reduce_chunk(r.path, chunk, mode, acc, edges, phase_hz)
        if use_tags and _has_tags(r):
            _histogram_tags(r, acc.tag_hist, max(chunk_rows, 1 << 20), progress)
    r0 = runs[0]
    return RemoteData(
        runs=totals,
        schema_version=int(r0.schema_version or 0),
        experiment=str(r0.experiment),
        tables=acc,
        edges=edges,
        readout_errors=_readout_errors(runs),
        readout_sigmas=_readout_errors(runs, "readout.error_sigma_"),
        notes=notes,
        heralding=_heralding(runs),
        labs=simulated_labs(runs),
    )


def _overrides_text(recorded: Any) -> str:
    """The ``--set`` overrides a run recorded (a JSON object, ``""`` for none) as they are
    typed: ``key=value`` each."""
    text = str(recorded or "").strip()
    try:
        items = json.loads(text) if text else {}
    except ValueError:
        return text
    if not isinstance(items, dict):
        return text
    return " ".join(f"{k}={json.dumps(v)}" for k, v in items.items())


def simulated_labs(runs: list[Run]) -> tuple[str, ...]:
    """The simulated labs ``runs`` were taken in, each once, as ``name`` or ``name (--set …)``
    with the run's lab overrides (the simulator's ``ionlink.sim.provenance.lab_*``); empty for
    files of a real lab."""
    out: list[str] = []
    for r in runs:
        name = r.values.get("ionlink.sim.provenance.lab_name")
        if name is None:
            continue
        overrides = _overrides_text(r.values.get("ionlink.sim.provenance.lab_overrides"))
        text = str(name) + (f" (--set {overrides})" if overrides else "")
        if text not in out:
            out.append(text)
    return tuple(out)


def _histogram_tags(r: Run, hist: IncrementalHistogram, rows: int, progress: bool) -> None:
    """Add the run's ``photons.t_mu`` to ``hist``. At least :data:`TAG_SHARE_ROWS` tags a core
    are split among threads, each counting its share of the rows into its own histogram (numpy
    counts without holding the interpreter), merged at the end; a failure or an interrupt of
    this thread stops the others at their next slice."""
    n = r.datasets["photons.t_mu"].shape[0]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    k = max(1, min(cores or 1, n // TAG_SHARE_ROWS))
    bounds = [n * i // k for i in range(k + 1)]
    stop = threading.Event()

    def fill(h: IncrementalHistogram, share: int, show: bool) -> None:
        for tags in r.iter_array(
            "photons.t_mu", rows=rows, progress=show, start=bounds[share], stop=bounds[share + 1]
        ):
            if stop.is_set():
                return
            h.add(tags, scratch=True)

    if k == 1:
        fill(hist, 0, progress)
        return
    shares = [IncrementalHistogram(hist.lo, hist.hi) for _ in range(k - 1)]
    with ThreadPoolExecutor(k - 1, thread_name_prefix="ionlink-tags") as pool:
        try:
            futures = [pool.submit(fill, h, i + 1, False) for i, h in enumerate(shares)]
            fill(hist, 0, progress)
            for future in futures:
                future.result()
        finally:
            stop.set()
    for h in shares:
        hist.merge(h)


def _heralding(runs: list[Run]) -> str | None:
    """The heralding path all ``runs`` record (they are never pooled across paths:
    :func:`~analysis.pooling.check_combinable`), ``None`` if one does not say."""
    paths = {r.values.get("ionlink.heralding") for r in runs}
    return None if len(paths) != 1 or None in paths else str(paths.pop())


def _has_tags(r: Run) -> bool:
    return (
        "photons.t_mu" in r
        and bool(r.datasets["photons.t_mu"].shape)
        and r.datasets["photons.t_mu"].shape[0] > 0
    )


def _detection_phase_hz(run: Run, mode: str, notes: list[str]) -> float:
    """``herald.detection_phase_hz`` of a run (0 if absent); notes what is corrected and what
    is not."""
    if "herald.detection_phase_hz" not in run.values and "herald.detection_phase_hz" not in run:
        return 0.0
    f = _scalar(run, "herald.detection_phase_hz", float)
    if f and mode == "parity":
        if "herald.t_det_mu" not in run:
            raise MissingDataError(run.path, "herald.detection_phase_hz needs herald.t_det_mu")
        notes.append(
            f"{run.path.name}: detection-time phase corrected from the timestamps (f = {f:.6g} Hz)"
        )
        return f
    if f:
        notes.append(
            f"{run.path.name}: detection-time phase (f = {f:.6g} Hz) not corrected in {mode} mode"
        )
    return 0.0


def _readout_errors(
    runs: list[Run], prefix: str = "readout.error_"
) -> list[tuple[float, float]] | None:
    """``(<prefix>a, <prefix>b)`` of each run (the readout errors, or with
    ``readout.error_sigma_`` their standard errors), or ``None`` from the first run without
    them."""
    errs = []
    for r in runs:
        if prefix + "a" not in r or prefix + "b" not in r:
            return None
        errs.append((_scalar(r, prefix + "a", float), _scalar(r, prefix + "b", float)))
    return errs
