# SPDX-License-Identifier: LGPL-3.0-or-later
"""One point of a parameter sweep: what it is (:class:`PointSpec`), running it
(:func:`run_point`, what a Dask worker executes) and what it gives (a :class:`PointRecord`).

A point is a full simulated sequence in its own folder, as ``ionlink-sim demo`` runs it: Startup,
the calibrations (measured by the readout-calibration and single-photon experiments, or with
``calibration="lab"`` taken from the lab description), then remote entanglement with ``heralds``
per analysis setting; the results files are ARTIQ's, and the remote-entanglement file is the
point's. Its P, rate and fidelity come from :func:`analysis.fidelity_summary`, beside the error
budget's prediction for the same lab and experiment arguments (:mod:`sim.budget_arguments` maps
them onto the budget's inputs; with an argument the budget does not model there is no budget, and
a note says why) and for the detection gate the run played (its single-photon calibration's, from
the results file; the lab's nominal gate before the run, with ``calibration="lab"`` and with
``budget_only``). With ``budget_only`` only the budget is computed.

A point never raises: an exception is recorded in :attr:`PointRecord.error` and the sweep goes on.
A termination signal (Ctrl-C, SIGTERM; received only by a point run in the sweep's own process,
``--workers 0``) is not an error: it stops the sweep, the point unrecorded. On a Dask worker, a
point whose task is cancelled (its sweep stopped, :func:`sim.sweep_run.run_sweep`) stops too: its
running experiment is asked to terminate (it stops at its next termination check, within
:data:`CANCEL_POLL_S` of the cancellation reaching the worker, and writes its results file), no
later step starts, and the point ends as :class:`PointCancelled`, a record no one collects.
"""

from __future__ import annotations

import math
import socket
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Interval", "PointCancelled", "PointRecord", "PointSpec", "run_point"]

ROOT = Path(__file__).resolve().parents[1]
#: how often a point on a Dask worker looks whether its task was cancelled (s)
CANCEL_POLL_S = 0.2
#: a Dask worker's states of a task no one wants any more, still running in its thread
_UNWANTED = frozenset(("cancelled", "released", "forgotten"))


class PointCancelled(Exception):
    """The point's task was cancelled on its Dask worker (its sweep stopped): the point stopped
    after its running experiment terminated (that experiment's results file is written)."""


@dataclass(frozen=True)
class PointSpec:
    """Everything a worker needs to run one point (plain values: it is pickled to workers).

    :param index: position in the sweep (row of the sweep file).
    :param parameters: swept dotted keys → values (lab keys as in ``--set``; experiment
        arguments as ``arg.NAME``).
    :param lab: preset name or TOML path. :param overrides: ``KEY=VALUE`` texts for the lab
        (fixed ones and this point's). :param arguments: remote-entanglement arguments.
    :param seed_index: which of the sweep's seeds. :param seed: the simulation's seed.
    :param folder: where the point's results tree goes. :param device_db: device database
        (absolute path; None: the repository's ``device_db.py``). :param path: the heralding
        path (:data:`sim.heralding_path.PATHS`), whose experiment is the last step.
    """

    index: int
    parameters: dict[str, Any]
    lab: str
    overrides: tuple[str, ...]
    arguments: dict[str, Any]
    seed_index: int
    seed: int
    folder: str
    heralds: int = 60
    mode: str = "parity"
    budget_only: bool = False
    calibration: str = "chain"
    readout_shots: int = 200
    photon_attempts: int = 3000
    device_db: str | None = None
    path: str = "gateware"

    def experiment_arguments(self) -> dict[str, Any]:
        """The remote-entanglement run's arguments: ``mode``, ``heralds_per_setting``, and
        :attr:`arguments` (which win; the sweep refuses ``--arg`` beside ``--mode``/``--heralds``
        for the same argument)."""
        return {"mode": self.mode, "heralds_per_setting": self.heralds, **self.arguments}


@dataclass
class Interval:
    """A figure with its confidence interval (``None`` where unknown)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, estimate: Any) -> "Interval":
        """From an :class:`analysis.estimate.Estimate` (NaN → ``None``)."""

        def num(x: Any) -> float | None:
            return None if x is None or not math.isfinite(float(x)) else float(x)

        return cls(num(estimate.value), num(estimate.lo), num(estimate.hi))


@dataclass
class PointRecord:
    """What a point gave: measured figures with intervals, the budget's, and its status.

    ``error`` is ``None`` when the point ran; ``note`` says why a figure is missing (e.g. too few
    heralds for a fidelity). Rates are heralds per second of lab time; P per attempt.
    """

    index: int
    parameters: dict[str, Any]
    seed_index: int
    seed: int
    p_success: Interval = field(default_factory=lambda: Interval(None))
    rate_hz: Interval = field(default_factory=lambda: Interval(None))
    fidelity: Interval = field(default_factory=lambda: Interval(None))
    heralds: int = 0
    attempts: int = 0
    budget: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    note: str = ""
    results_file: str = ""
    worker: str = ""
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PointRecord":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        for key in ("p_success", "rate_hz", "fidelity"):
            data[key] = Interval(**data[key])
        return cls(**data)


def _worker_name() -> str:
    """The Dask worker's address, else ``host:pid`` of this process."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        import os

        return "{}:{}".format(socket.gethostname(), os.getpid())


class _Cancellation:
    """Whether this point's Dask task was cancelled; while the ``with`` block runs, a thread asks
    :attr:`simulation`'s running experiment to terminate once it was. Inert outside a worker."""

    def __init__(self) -> None:
        self._worker: Any = None
        self._key: Any = None
        try:
            from distributed import get_worker

            self._worker = get_worker()
            self._key = self._worker.get_current_task()
        except (ImportError, ValueError, KeyError):  # not in a Dask worker's task
            self._worker = None
        #: the point's simulation, once it has one
        self.simulation: Any = None
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None

    def cancelled(self) -> bool:
        """True once the worker no longer wants the point (its task was cancelled)."""
        if self._worker is None:
            return False
        task = self._worker.state.tasks.get(self._key)
        return task is None or task.state in _UNWANTED

    def __enter__(self) -> "_Cancellation":
        if self._worker is not None:
            self._watcher = threading.Thread(
                target=self._watch, name="ionlink-point-cancel", daemon=True
            )
            self._watcher.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        if self._watcher is not None:
            self._watcher.join()

    def _watch(self) -> None:
        asked = None  # the run asked to terminate (each run of the point's chain, once)
        while not self._done.wait(CANCEL_POLL_S):
            simulation = self.simulation
            if simulation is None or not self.cancelled():
                continue
            rid = simulation.scheduler.rid
            if rid != asked:
                simulation.scheduler.request_termination(rid)
                asked = rid


def run_point(spec: PointSpec) -> PointRecord:
    """Run one point (see the module docstring); never raises."""
    t0 = time.perf_counter()
    record = PointRecord(spec.index, dict(spec.parameters), spec.seed_index, spec.seed)
    record.worker = _worker_name()
    try:
        with _Cancellation() as cancellation:
            _run(spec, record, cancellation)
    except BaseException as exc:  # recorded: the sweep goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        record.error = "{}: {}".format(type(exc).__name__, " ".join(str(exc).split()))
        record.note = traceback.format_exc(limit=-3)
    record.wall_s = time.perf_counter() - t0
    return record


def _add_note(record: PointRecord, note: str) -> None:
    record.note = "; ".join(n for n in (record.note, note) if n)


def _run(spec: PointSpec, record: PointRecord, cancellation: _Cancellation) -> None:
    from sim.lab_resolution import resolve_lab

    lab = resolve_lab(spec.lab, None, spec.overrides)
    _budget(spec, record)
    if spec.budget_only:
        return
    path = _simulate(spec, lab, cancellation)
    record.results_file = str(path.resolve())
    if record.budget:
        from sim.budget_arguments import played_gate

        _budget(spec, record, played_gate(path))
    _measure(path, record)


def _budget(spec: PointSpec, record: PointRecord, gate_mu: tuple[int, int] | None = None) -> None:
    """The budget of the point's lab, experiment arguments and detection gate ``gate_mu`` (None:
    the lab's nominal one) in ``record.budget``; none and a note when an argument is not
    modelled."""
    from sim.budget_arguments import budget_inputs
    from sim.heralding_path import heralding_path
    from sim.lab_resolution import resolve_lab
    from sim.topology import is_two_chassis

    path = heralding_path(spec.path)
    inputs = budget_inputs(spec.experiment_arguments(), counterparts=path.counterparts)
    if inputs.unmodelled:
        _add_note(
            record,
            "no budget: argument{} {} not modelled".format(
                "s" if len(inputs.unmodelled) > 1 else "", ", ".join(inputs.unmodelled)
            ),
        )
        return
    lab = resolve_lab(spec.lab, None, (*spec.overrides, *inputs.overrides))
    budget = path.budget_dict(
        lab,
        inputs.mode,
        is_two_chassis(spec.device_db),
        path.loop_arguments(**inputs.arguments, gate_mu=gate_mu),
    )
    record.budget = {
        "p_success": float(budget["p_success"]),
        "rate_hz": float(budget["rate_hz"]),
        "fidelity": float(budget["fidelity_measured"]),
        "fidelity_state": float(budget["fidelity_state"]),
    }


def _simulate(spec: PointSpec, lab: Any, cancellation: _Cancellation) -> Path:
    """The point's sequence; returns the remote-entanglement results file.

    :raises PointCancelled: the point's task was cancelled (the step running terminated)."""
    from sim.heralding_path import heralding_path
    from sim.lab_datasets import calibration_datasets
    from sim.runner import Simulation

    repo = ROOT / "repository"
    folder = Path(spec.folder)
    with Simulation(
        Path(spec.device_db) if spec.device_db is not None else ROOT / "device_db.py",
        seed=spec.seed,
        lab=lab,
        results_dir=folder / "results",
        dataset_db=folder / "dataset_db.mdb",
    ) as simulation:
        cancellation.simulation = simulation
        steps: list[tuple[str, dict[str, Any]]] = [("startup.py", {})]
        if spec.calibration == "chain":
            steps.append(("readout_calibration.py", {"shots": spec.readout_shots}))
            steps.append(("single_photon.py", {"attempts": spec.photon_attempts}))
        else:
            for key, value in calibration_datasets(lab).items():
                simulation.dataset_db.set(key, value, persist=True)
        steps.append((heralding_path(spec.path).experiment, spec.experiment_arguments()))
        for file, args in steps:
            result = simulation.run(repo / file, arguments=args)
            _stop_if_signalled(result)
            if cancellation.cancelled():
                raise PointCancelled(
                    "the sweep stopped: {} ended {}".format(result.class_name, result.status)
                )
            if result.exit_code != 0:
                raise RuntimeError(
                    "{} failed: {}".format(result.class_name, result.error_message or result.status)
                )
    if result.results_file is None:
        raise RuntimeError("the remote-entanglement run wrote no results file")
    return Path(result.results_file)


def _stop_if_signalled(result: Any) -> None:
    """Raise :class:`~sim.termination.SignalInterrupt` if a termination signal stopped the run
    ``result`` (exit status 128 + its number) or came after its last check: the sweep stops as
    for Ctrl-C between points (the point runs again when it resumes). Only in the main thread,
    the one signals reach (a Dask worker runs points in another)."""
    import threading

    from sim.termination import SignalInterrupt

    if threading.current_thread() is not threading.main_thread():
        return
    if result.unseen_signal is not None:
        raise SignalInterrupt(result.unseen_signal)
    if result.status == "terminated":
        raise SignalInterrupt(result.exit_code - 128)


def _measure(path: Path, record: PointRecord) -> None:
    """P, rate and fidelity of the results file; without a fidelity (too few heralds) P and rate
    from the run's totals, and a note."""
    from analysis import fidelity_summary, load
    from analysis.estimate import clopper_pearson, poisson_rate
    from analysis.io import AnalysisError

    try:
        rep = fidelity_summary([path], timing=False)
    except AnalysisError as exc:
        _add_note(record, "no fidelity: {}".format(" ".join(str(exc).split())))
        run = load(path)
        heralds = int(run.values["totals.heralds"])
        attempts = int(run.values["totals.attempts"])
        lab_s = float(run.values["totals.lab_time_s"])
        record.heralds, record.attempts = heralds, attempts
        record.p_success = Interval.of(clopper_pearson(heralds, attempts))
        record.rate_hz = Interval.of(poisson_rate(heralds, lab_s))
        return
    record.heralds = int(rep.stats.heralds)
    record.attempts = int(rep.stats.attempts)
    record.p_success = Interval.of(rep.p_success)
    record.rate_hz = Interval.of(rep.rate_lab)
    record.fidelity = Interval.of(rep.fidelity)
