# SPDX-License-Identifier: LGPL-3.0-or-later
"""One experiment run in a :class:`~sim.runner.Simulation`: ARTIQ's lifecycle (build, prepare, run,
analyze), its results file and diagnostics, and its :class:`RunResult`.

The results file is written after analyze, or as soon as ``run()`` raises, never when build or
prepare fails. An experiment whose build or prepare fails before any kernel ran (arguments
refused, as ``artiq_run`` refuses them) never reached the core device: the simulation leaves
its lab as it was (:meth:`~sim.runner.Simulation.run`); its rid, allocated before build as the
master allocates it at submission, stays used. The engine is installed as ARTIQ's time manager
only while the experiment runs (:func:`installed_time_manager`).
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import pathlib
import signal
import sys
import time
from typing import Any, Iterator

import numpy

from comms import pyon
from sim.datasets import DatasetManager
from sim.device_manager import DeviceManager
from sim.experiment_file import InputError, argument_manager_class
from sim.lab_datasets import measured_calibrations, note_calibration_lab
from sim.outputs import (
    NotSaved,
    cause,
    fallback_folders,
    free_name,
    not_saved_message,
    write_with_fallback,
)
from sim.results import RIDFileError, results_image, results_path, write_file
from sim.run_result import (
    EXIT_BAD_INPUT,
    EXIT_EXPERIMENT_ERROR,
    EXIT_OK,
    RunResult,
    exit_code_for,
)
from sim.termination import (
    EXIT_TERMINATED,
    SignalInterrupt,
    TerminationSignal,
    exit_status,
    signals_held,
    signals_request_termination,
)

__all__ = [
    "Run",
    "RunResult",
    "installed_time_manager",
    "EXIT_OK",
    "EXIT_EXPERIMENT_ERROR",
    "EXIT_BAD_INPUT",
    "EXIT_TERMINATED",
    "PROGRESS_DATASET",
    "DIAGNOSTICS_PREFIX",
    "STOPPED_AT_ONCE",
]

logger = logging.getLogger("sim.runner")

#: Dataset (float in [0, 1]) that drives the progress bar of ``ionlink-sim run``.
PROGRESS_DATASET = "ionlink.progress"
#: Prefix of the simulator's own diagnostics datasets in results files.
DIAGNOSTICS_PREFIX = "ionlink.sim."
#: set (to the signal's name) when a second termination signal stopped ``run()`` at once: the
#: experiment did not reach the end of its own code, so its totals may be incomplete
STOPPED_AT_ONCE = DIAGNOSTICS_PREFIX + "stopped_at_once"


@contextlib.contextmanager
def installed_time_manager(time_manager: Any) -> Iterator[None]:
    """Install ``time_manager`` with ``artiq.language.core.set_time_manager``; restore the
    previous one."""
    from artiq.language import core

    previous = getattr(core, "_time_manager", None)
    core.set_time_manager(time_manager)
    try:
        yield
    finally:
        core.set_time_manager(previous)


class _Progress:
    """tqdm bar on stderr driven by the ``ionlink.progress`` dataset."""

    def __init__(self, enabled: bool, description: str):
        self.enabled = enabled
        self.description = description
        self._bar: Any = None

    def on_set(self, key: str, value: Any) -> None:
        if not self.enabled or key != PROGRESS_DATASET:
            return
        try:
            fraction = min(max(float(value), 0.0), 1.0)
        except (TypeError, ValueError):
            return
        if self._bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                self.enabled = False
                return
            self._bar = tqdm(
                total=1000, desc=self.description, unit="‰", leave=False, file=sys.stderr
            )
        self._bar.n = int(round(1000 * fraction))
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Run:
    """State of one experiment run (rid, managers, timings) and its lifecycle."""

    def __init__(self, sim: Any, exp_cls: type, expid: dict, rid: int | None = None):
        """``sim``: the :class:`~sim.runner.Simulation` the experiment runs in; ``rid``: the run
        id given at submission (default: the next one)."""
        self.sim = sim
        self.exp_cls = exp_cls
        self.expid = expid
        try:
            self.rid = sim.rid_counter.get() if rid is None else rid
        except RIDFileError as exc:  # (changed since the simulation began)
            raise InputError(str(exc)) from None
        except OSError as exc:  # before anything ran: bad input, as in sim.outputs
            raise InputError(
                "run-id file '{}' cannot be written ({})".format(
                    sim.rid_counter.cache_file, cause(exc)
                )
            ) from None
        self.start_time = time.time()
        self.run_time: float | None = None
        #: ``run()`` returned (the experiment reached the end of its own code)
        self.run_returned = False
        self.progress = _Progress(sim.progress, "{}-{}".format(self.rid, exp_cls.__name__))
        watch = sim.calibration_watch
        self.dataset_mgr = DatasetManager(
            sim.dataset_db,
            on_set=self.progress.on_set,
            on_read=None if watch is None else watch.reader(exp_cls.__name__),
        )
        sim.scheduler.set_run_info(self.rid, "main", expid, 0)
        self.device_mgr = DeviceManager(
            sim.device_db, {"scheduler": sim.scheduler, "ccb": sim.ccb}, session=sim.session
        )
        #: the measured calibrations the run starts from (their lab is noted with its datasets)
        self.calibrations = measured_calibrations(sim.dataset_db)
        self.argument_mgr = argument_manager_class()(
            expid["arguments"], sim.interactive_input, sim.interactive_arguments
        )
        self.results_file: pathlib.Path | None = None
        #: False when build or prepare raised before any kernel ran: the experiment never reached
        #: the core device, and the simulated lab is left as it was (its rid stays used)
        self.reached_hardware = True
        self._written = False
        self.results_lost = False
        self.not_saved: list[str] = []
        self.async_errors_at_start = len(self._async_errors())
        self.satellite_errors_at_start = len(self._satellite_errors() or ())
        start = getattr(getattr(sim.session, "engine", None), "start_experiment", None)
        if start is not None:
            start()  # minimum slack per experiment

    def execute(self) -> RunResult:
        engine = getattr(self.sim.session, "engine", None)
        tm = installed_time_manager(engine) if engine is not None else contextlib.nullcontext()
        exc: BaseException | None = None
        received = TerminationSignal()
        try:
            with (
                tm,
                signals_request_termination(self.sim.scheduler.request_termination) as received,
            ):
                try:
                    exc = self._lifecycle()
                except SignalInterrupt as late:
                    # a stop at once that landed between the experiment's steps and the save
                    # of its results (the file is written below all the same)
                    exc = late
        finally:
            with _held(received):  # the dataset store and the hardware state are saved whole
                if self.run_time is not None and not self._written:
                    self._late_write(exc)
                self.progress.close()
                self.device_mgr.close_devices()
                # the calibrations' lab marks go into the store in the same save as their values
                note_calibration_lab(
                    self.sim.dataset_db, self.sim.lab, self.calibrations, self.dataset_mgr.local
                )
                self._saved(self.sim.dataset_db.save)
                self._saved(
                    self.sim._end_of_experiment
                    if self.reached_hardware
                    else self.sim._forget_experiment
                )
        code = EXIT_OK if exc is None else exit_code_for(exc)
        unseen: int | None = None
        if code == EXIT_OK and self.sim.scheduler.termination_seen():
            # it returned, but after stopping early at a check that said "terminate": terminated.
            # A request it never saw (it came after the last check) leaves the run ok.
            code = EXIT_TERMINATED
        elif code == EXIT_OK:
            unseen = received.signum
        if code == EXIT_TERMINATED:  # (a run in another thread, stopped at once: no handler)
            code = exit_status(exc.signum if isinstance(exc, SignalInterrupt) else received.signum)
        if code == EXIT_OK and self.not_saved:
            code = EXIT_EXPERIMENT_ERROR
        return RunResult(
            self.rid,
            self.exp_cls.__name__,
            code,
            self.results_file,
            exc,
            dict(self.dataset_mgr.local),
            self._summary(),
            not_saved=list(self.not_saved),
            results_lost=self.results_lost,
            unseen_signal=unseen,
        )

    def _late_write(self, exc: BaseException | None) -> None:
        """The results of a run that reached ``run()`` and whose own save did not happen (a
        signal, or any exception, escaped between its steps): written now, marked as stopped at
        once if ``run()`` did not return."""
        self._mark_stopped_at_once(exc)
        self._write()

    def _mark_stopped_at_once(self, exc: BaseException | None) -> None:
        """``exc`` a stop at once before ``run()`` returned: the experiment did not reach the end
        of its own code (its totals, the last records); say so in the file, for whoever
        analyses it."""
        if isinstance(exc, SignalInterrupt) and not self.run_returned:
            name = signal.Signals(exc.signum).name
            self.dataset_mgr.set(STOPPED_AT_ONCE, name, {}, False, False, True)

    def _saved(self, save: Any) -> None:
        """``save()``; a :class:`~sim.outputs.NotSaved` it raises is noted in :attr:`not_saved`
        (and with the simulation, which then does not say it again when it closes)."""
        try:
            save()
        except NotSaved as exc:
            self.not_saved.append(str(exc))
            self.sim.reported_not_saved.add(str(exc))

    def _lifecycle(self) -> BaseException | None:
        managers: tuple[Any, Any, Any, dict[str, Any]] = (
            self.device_mgr,
            self.dataset_mgr,
            self.argument_mgr,
            {},
        )
        kernels = self._kernels_ended()
        try:
            exp = self.exp_cls(managers)
            self.argument_mgr.check_unprocessed_arguments()
            exp.prepare()
        except BaseException as exc:  # noqa: B902 - Ctrl-C in build/prepare: nothing to write
            logger.debug("build/prepare failed", exc_info=True)
            self.reached_hardware = self._kernels_ended() != kernels
            return exc
        self.run_time = time.time()
        logger.info("RID %d: %s.run() starts", self.rid, self.exp_cls.__name__)
        try:
            try:
                exp.run()
                self.run_returned = True
            finally:
                self.device_mgr.notify_run_end()
        except BaseException as exc:
            logger.debug("run failed", exc_info=True)
            self._mark_stopped_at_once(exc)
            self._write()
            return exc
        try:
            exp.analyze()
        except BaseException as exc:
            logger.debug("analyze failed", exc_info=True)
            return exc
        finally:
            self._write()
        return None

    def _kernels_ended(self) -> int:
        """Kernels ended so far on the session's engine (0 without one)."""
        return int(getattr(getattr(self.sim.session, "engine", None), "kernels_ended", 0))

    def _summary(self) -> dict:
        session = self.sim.session
        if session is None or not hasattr(session, "summary"):
            return {}
        try:
            return dict(session.summary())
        except Exception:
            logger.warning("session summary failed", exc_info=True)
            return {}

    def _diagnostics(self) -> None:
        """Record the simulator's own diagnostics as ``ionlink.sim.*`` datasets: the seed (-1 if
        none), the provenance (``ionlink.sim.provenance.*``: lab, device database, code), the
        core-log lines of this run's asynchronous RTIO errors (newline-separated) and their
        count, with DRTIO satellites their own log's lines (late writes they dropped) and
        count, and the session's summary (``min_slack_*`` of this experiment, ``session_*`` and
        the counts over the session; integers as int64, ``None`` items left out, non-scalar
        items as PYON strings)."""

        def put(key: str, value: Any) -> None:
            self.dataset_mgr.set(key, value, {}, False, False, True)

        put(
            DIAGNOSTICS_PREFIX + "seed", numpy.int64(-1 if self.sim.seed is None else self.sim.seed)
        )
        for key, value in self.sim.provenance.datasets(DIAGNOSTICS_PREFIX + "provenance.").items():
            put(key, numpy.int64(value) if isinstance(value, int) else value)
        errors = self._async_errors()[self.async_errors_at_start :]
        put(DIAGNOSTICS_PREFIX + "async_error_count", numpy.int64(len(errors)))
        put(DIAGNOSTICS_PREFIX + "async_errors", "\n".join(str(e) for e in errors))
        satellite = self._satellite_errors()
        if satellite is not None:  # (a system with DRTIO satellites)
            lines = satellite[self.satellite_errors_at_start :]
            put(DIAGNOSTICS_PREFIX + "satellite_error_count", numpy.int64(len(lines)))
            put(DIAGNOSTICS_PREFIX + "satellite_errors", "\n".join(lines))
        for key, value in self._summary().items():
            if value is None or key == "async_errors":
                continue
            put(DIAGNOSTICS_PREFIX + str(key), _hdf5_scalar(value))

    def _async_errors(self) -> list:
        return list(getattr(self.sim.session, "async_errors", None) or [])

    def _satellite_errors(self) -> list[str] | None:
        """The satellites' own log lines so far (a write that reached its satellite late is
        dropped there and logged only there, as satman does: not among the master's async
        errors); ``None`` without satellites."""
        drtio = getattr(getattr(self.sim.session, "engine", None), "drtio", None)
        return None if drtio is None else list(drtio.satellite_log)

    def _write(self) -> None:
        if not self.sim.write_results or self._written:
            return
        self._written = True
        with _held():  # a signal now waits until the file is written
            self._write_held()

    def _write_held(self) -> None:
        from artiq import __version__ as artiq_version

        try:
            self._diagnostics()
        except Exception:
            logger.warning("cannot record simulator diagnostics", exc_info=True)
        asked = results_path(self.sim.results_dir, self.rid, self.exp_cls.__name__, self.start_time)
        path = free_name(asked)
        if path != asked:  # (a run id given twice: last_rid.pyon put back, or edited)
            logger.warning(
                "results file %s exists (run id %d used before); this run's results are "
                "written to %s, the file there is kept",
                asked,
                self.rid,
                path.name,
            )
        image = results_image(
            self.dataset_mgr,
            rid=self.rid,
            start_time=self.start_time,
            run_time=self.run_time,
            expid=self.expid,
            artiq_version=artiq_version,
            strict=False,
        )
        saved = write_with_fallback(
            path, lambda p: write_file(p, image, replace=False), fallback_folders()
        )
        self.results_file = saved.path
        self.results_lost = saved.path is None
        if saved.path is not None:
            self.sim.last_results_file = saved.path
        if saved.error is not None:
            self.not_saved.append(
                not_saved_message(
                    "results folder {}".format(self.sim.results_dir.absolute()),
                    "the results were",
                    saved,
                )
            )
        if saved.path is not None:
            logger.info("Results written to %s", saved.path)


@contextlib.contextmanager
def _held(received: TerminationSignal | None = None) -> Any:
    """Termination signals wait while the block saves what the run made
    (:func:`~sim.termination.signals_held`); a second signal that waited is then dropped: the run
    has ended by then, and it ends as terminated (the first signal requested that). A first one
    (``received`` has none: it came after the run's own handler) is kept in ``received``: it came
    after the experiment's last termination check."""
    try:
        with signals_held():
            yield
    except SignalInterrupt as exc:
        if received is not None and received.signum is None:
            received.signum = exc.signum
        logger.debug("a signal that waited for the results: the run has ended")


def _hdf5_scalar(value: Any) -> Any:
    """``value`` as an HDF5-native scalar: integers (Python or numpy) → int64, reals → float64,
    bool and str unchanged, anything else its PYON string."""
    if isinstance(value, (bool, numpy.bool_, str)):
        return bool(value) if isinstance(value, numpy.bool_) else value
    if isinstance(value, numbers.Integral):
        return numpy.int64(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return pyon.encode(value) if _pyon_ok(value) else str(value)


def _pyon_ok(value: Any) -> bool:
    try:
        pyon.encode(value)
    except TypeError:
        return False
    return True
