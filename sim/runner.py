# SPDX-License-Identifier: LGPL-3.0-or-later
"""Run ARTIQ experiment files in the simulator, like ``artiq_run`` with the master's results files.

A :class:`Simulation` holds the simulated lab (the RTIO engine, so the cursor and the RTIO counter
persist across kernels; between experiments the hardware state is captured and restored into a
fresh session, :mod:`sim.hwstate`, optionally kept on disk, :mod:`sim.state_file`), the transformed
device database, the dataset store and the run-id counter. :meth:`Simulation.run` goes through
ARTIQ's lifecycle: build (+ check of unused arguments) → prepare → run → ``notify_run_end`` →
analyze; the results file is written after analyze, or as soon as ``run()`` raises, never when
build or prepare fails. The engine is installed as ARTIQ's time manager only while an experiment
runs (:func:`installed_time_manager`).

Exit codes (:class:`RunResult.exit_code`): 0 ok, 1 the experiment raised, 2 bad input (arguments,
class selection, device database, device without model, an output path that cannot be written),
128 + the signal's number when a signal terminated the run (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP;
:mod:`sim.termination`), 130 when termination was requested otherwise. Every output path is
created or checked when the :class:`Simulation` is made (:mod:`sim.outputs`), before any
experiment is built.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import numbers
import os
import pathlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy

from analysis import pyon
from drivers.arguments import ArgumentValueError
from sim import artiq_env
from sim.datasets import DatasetDB, DatasetManager
from sim.device_manager import (
    DeviceDBError,
    DeviceError,
    DeviceManager,
    load_device_db,
    transform_device_db,
)
from sim.fileimport import import_file
from sim.lab_datasets import seed_lab_datasets
from sim.outputs import OutputPath, OutputPathError, prepare_outputs
from sim.provenance import Provenance, lab_file
from sim.results import RIDCounter, results_path, write_results
from sim.termination import (
    EXIT_TERMINATED,
    TerminationSignal,
    exit_status,
    signals_request_termination,
)

__all__ = [
    "Simulation",
    "RunResult",
    "InputError",
    "ArgumentError",
    "run_experiment",
    "installed_time_manager",
    "parse_arguments",
    "get_experiment",
    "load_experiment_module",
    "EXIT_OK",
    "EXIT_EXPERIMENT_ERROR",
    "EXIT_BAD_INPUT",
    "EXIT_TERMINATED",
    "PROGRESS_DATASET",
]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_EXPERIMENT_ERROR = 1
EXIT_BAD_INPUT = 2

#: Dataset (float in [0, 1]) that drives the progress bar of ``ionlink-sim run``.
PROGRESS_DATASET = "ionlink.progress"
#: Prefix of the simulator's own diagnostics datasets in results files.
DIAGNOSTICS_PREFIX = "ionlink.sim."


class InputError(Exception):
    """Bad input: experiment file, class selection, arguments, device database, lab."""


class ArgumentError(InputError, ValueError):
    """A supplied argument is invalid or a required one is missing."""


# ---------------------------------------------------------------------------------------------
# helpers shared with the CLI


def parse_arguments(arguments: list[str]) -> dict:
    """Parse ``KEY=VALUE`` strings; values are PYON (v2, falling back to v1)."""
    result = {}
    for argument in arguments:
        name, eq, value = argument.partition("=")
        if not eq or not name:
            raise ArgumentError("argument {!r} is not of the form KEY=VALUE".format(argument))
        try:
            result[name] = pyon.decode(value)
        except Exception as exc:
            raise ArgumentError(
                "cannot parse value of argument '{}' as PYON: {!r}".format(name, value)
            ) from exc
    return result


def load_experiment_module(path: str | os.PathLike, prefix: str = "artiq_run_") -> Any:
    """Import an experiment file as a fresh module (its directory is on ``sys.path`` meanwhile;
    ``import artiq`` works, :func:`sim.artiq_env.activate`)."""
    artiq_env.activate()
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError("experiment file '{}' not found".format(path))
    try:
        module = import_file(path, prefix + path.stem)
    except Exception as exc:
        raise InputError(
            "cannot load experiment file '{}': {}: {}".format(path, type(exc).__name__, exc)
        ) from exc
    return module


def get_experiment(module: Any, class_name: str | None = None) -> type:
    """Select the experiment class as ``artiq_run`` does (same error texts)."""
    from artiq.language.environment import is_public_experiment

    exps = [(name, obj) for name, obj in sorted(vars(module).items()) if is_public_experiment(obj)]
    if class_name:
        obj = module
        try:
            for name in class_name.split("."):
                obj = getattr(obj, name)
        except AttributeError:
            raise InputError(
                "experiment file '{}' has no class '{}' (experiments in it: {})".format(
                    getattr(module, "__file__", "?"),
                    class_name,
                    ", ".join(name for name, _ in exps) or "none",
                )
            ) from None
        return obj
    if not exps:
        raise InputError("No experiments in module")
    if len(exps) > 1:
        raise InputError(
            "More than one experiment found in module: " + ", ".join(name for name, _ in exps)
        )
    return exps[0][1]


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


# ---------------------------------------------------------------------------------------------
# argument manager


def _argument_manager_class() -> type:
    from artiq.language.environment import DefaultMissing

    from drivers.arguments import argument_problem

    class MissingArgument(ArgumentError, DefaultMissing):
        """A required argument (no default) was not supplied."""

    class SimArgumentManager:
        """ARTIQ's ``ProcessArgumentManager`` with one-line errors naming the argument."""

        def __init__(self, unprocessed: dict, interactive_input: Callable[[str], str] | None):
            self.unprocessed_arguments = unprocessed
            self._processed: set = set()
            self._input = interactive_input

        def get(self, key: str, processor: Any, group: Any, tooltip: Any) -> Any:
            if key in self.unprocessed_arguments:
                raw = self.unprocessed_arguments[key]
                try:
                    value = processor.process(raw)
                except Exception as exc:
                    problem = argument_problem(processor, raw) or "is not allowed: {}".format(
                        exc or type(exc).__name__
                    )
                    raise ArgumentError(
                        "argument '{}' = {!r} {}".format(key, raw, problem)
                    ) from exc
                self._processed.add(key)
                return value
            try:
                return processor.default()
            except DefaultMissing:
                raise MissingArgument(
                    "argument '{}' is required (it has no default)".format(key)
                ) from None

        def check_unprocessed_arguments(self) -> None:
            unprocessed = set(self.unprocessed_arguments) - self._processed
            if unprocessed:
                raise AttributeError(
                    "Supplied argument(s) not queried in experiment: "
                    + ", ".join(sorted(unprocessed))
                )

        def get_interactive(self, arglist: list, title: str) -> dict | None:
            if self._input is None:
                return None
            print(title)
            result = {}
            for key, processor, group, tooltip in arglist:
                while True:
                    try:
                        text = self._input(
                            "{}:{} (group={}, tooltip={}): ".format(
                                key, type(processor).__name__, group, tooltip
                            )
                        )
                    except EOFError:
                        return None
                    try:
                        result[key] = processor.process(pyon.decode(text))
                        break
                    except Exception:
                        logger.error("failed to process user input, retrying", exc_info=True)
            return result

    return SimArgumentManager


# ---------------------------------------------------------------------------------------------
# results of a run


@dataclass
class RunResult:
    """Outcome of :meth:`Simulation.run`."""

    rid: int
    class_name: str
    exit_code: int
    results_file: pathlib.Path | None = None
    exception: BaseException | None = None
    datasets: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``"ok"``, ``"error"``, ``"bad input"`` or ``"terminated"`` (exit codes ≥ 128)."""
        return {EXIT_OK: "ok", EXIT_EXPERIMENT_ERROR: "error", EXIT_BAD_INPUT: "bad input"}.get(
            self.exit_code, "terminated"
        )

    @property
    def error_message(self) -> str:
        """One-line description of the exception (empty if none)."""
        exc = self.exception
        if exc is None:
            return ""
        text = " ".join(str(exc).split())
        if isinstance(exc, (InputError, DeviceError, ArgumentValueError)):
            return text
        return "{}: {}".format(type(exc).__name__, text) if text else type(exc).__name__


def _exit_code_for(exc: BaseException) -> int:
    from artiq.language.core import TerminationRequested

    if isinstance(exc, (TerminationRequested, KeyboardInterrupt)):
        return EXIT_TERMINATED
    if isinstance(exc, (InputError, DeviceError, DeviceDBError, ArgumentValueError)):
        return EXIT_BAD_INPUT
    if isinstance(exc, AttributeError) and "not queried in experiment" in str(exc):
        return EXIT_BAD_INPUT
    return EXIT_EXPERIMENT_ERROR


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


# ---------------------------------------------------------------------------------------------
# the simulation


def _make_session(
    device_db: dict, seed: int | None, lab: Any, vcd: str | None, hardware_faithful: bool = False
) -> Any:
    try:
        from sim.session import SimSession
    except ImportError:
        logger.warning("sim.session is not available: running without an RTIO engine")
        return None
    try:
        return SimSession(
            device_db=device_db,
            seed=seed,
            lab=lab,
            vcd=vcd,
            cost_profile="kasli2",
            hardware_faithful=hardware_faithful,
        )
    except Exception as exc:
        raise InputError(
            "cannot set up the simulation (device database / lab): {}: {}".format(
                type(exc).__name__, " ".join(str(exc).split())
            )
        ) from exc


def resolve_lab(lab: Any, device_db_path: pathlib.Path | None) -> Any:
    """Load the lab description: ``lab`` (preset name, path or loaded object), else the ``lab.toml``
    next to the device database if present, else ``None``."""
    if lab is None:
        lab = lab_file(None, device_db_path)
        if lab is None:
            return None
    if not isinstance(lab, (str, os.PathLike)):
        return lab
    try:
        from sim.physics.lab import load_lab
    except ImportError as exc:
        raise InputError(
            "cannot load lab {!r}: sim.physics is not available".format(str(lab))
        ) from exc
    try:
        return load_lab(os.fspath(lab))
    except Exception as exc:
        raise InputError(
            "cannot load lab {!r}: {}".format(str(lab), " ".join(str(exc).split()))
        ) from exc


def _load_stored(store: Any) -> Any:
    from sim.state_file import StateFileError

    try:
        return store.load()
    except StateFileError as exc:
        raise InputError(f"{exc}: run with --power-up to start from a cold machine") from exc


class Simulation:
    """Runs experiments against one simulated Kasli (one session, one device database).

    :param device_db: path of the lab's ``device_db.py`` or its ``device_db`` dict (transformed
        here with :func:`~sim.device_manager.transform_device_db`).
    :param seed: seed of the session's random generator (``None``: fresh entropy).
    :param lab: lab description (preset name, TOML path or loaded ``Lab``); default: ``lab.toml``
        next to ``device_db``, if present.
    :param results_dir: root of the results tree; ``last_rid.pyon`` lives in its parent.
    :param dataset_db: ``dataset_db.mdb`` path (default: in the results' parent directory);
        ``False`` keeps the master store in memory.
    :param vcd: VCD file written by the session at :meth:`close`.
    :param progress: show a tqdm bar driven by the ``ionlink.progress`` dataset.
    :param write_results: write HDF5 results files.
    :param interactive_input: ``input``-like callable for interactive arguments (``None``: cancel).
    :param session: an existing session to use (not closed by :meth:`close`).
    :param state: keep the simulated hardware's state in a file between processes (``True``: the
        file of this device database and lab in ``sim_state/`` next to the dataset store, see
        :mod:`sim.state_file`; or a path): restored here, saved after every experiment. ``None``:
        the session starts as after power-up. Between the experiments of one ``Simulation`` the
        state always goes through the same capture and restore (:mod:`sim.hwstate`), so that
        this session and a sequence of processes give the same results. ``seed``: seeds a
        power-up; a stored state continues its own random stream when ``seed`` is None or equal
        to the seed it was powered up with, and is re-seeded (with a warning) by another seed.
    :param power_up: start from a cold machine, discarding the stored state.
    :param hardware_faithful: pulses through a Urukul not initialised since power-up do nothing
        (one warning), as on hardware, instead of stopping the experiment.
    """

    def __init__(
        self,
        device_db: str | os.PathLike | dict = "device_db.py",
        *,
        seed: int | None = None,
        lab: Any = None,
        results_dir: str | os.PathLike = "results",
        dataset_db: str | os.PathLike | bool | None = None,
        vcd: str | None = None,
        progress: bool = False,
        write_results: bool = True,
        interactive_input: Callable[[str], str] | None = None,
        session: Any = None,
        state: bool | str | os.PathLike | None = None,
        power_up: bool = False,
        hardware_faithful: bool = False,
    ):
        artiq_env.activate()  # experiments and device models import artiq
        from sim.scheduler import CCB, Scheduler

        ddb_path = None
        if isinstance(device_db, dict):
            raw = device_db
        else:
            ddb_path = pathlib.Path(device_db)
            try:
                raw = load_device_db(ddb_path)
            except DeviceDBError as exc:
                raise InputError(str(exc)) from exc
        try:
            self.device_db = transform_device_db(raw)
        except DeviceDBError as exc:
            raise InputError(str(exc)) from exc
        self.device_db_path = ddb_path
        self.raw_device_db = raw
        self.seed = seed
        self.lab = resolve_lab(lab, ddb_path)
        self._lab_path = lab_file(lab, ddb_path)
        self.results_dir = pathlib.Path(results_dir)
        base = self.results_dir.resolve().parent
        self.rid_counter = RIDCounter(base / "last_rid.pyon", self.results_dir)
        self.dataset_db_path: pathlib.Path | None
        if dataset_db is False:
            self.dataset_db_path = None
        elif dataset_db is None or dataset_db is True:
            self.dataset_db_path = base / "dataset_db.mdb"
        else:
            self.dataset_db_path = pathlib.Path(dataset_db)
        state_dir = base if self.dataset_db_path is None else self.dataset_db_path.resolve().parent
        self.vcd = vcd
        self.write_results = write_results
        from sim.state_file import store_for

        self._store = store_for(state, state_dir, ddb_path, lab, raw, self.lab)
        try:
            prepare_outputs(self.output_paths())
        except OutputPathError as exc:
            raise InputError(str(exc)) from None
        try:
            self.dataset_db = DatasetDB(self.dataset_db_path)
        except Exception as exc:  # lmdb.Error: not an LMDB file, locked, ...
            raise InputError(
                "cannot open dataset store '{}': {}".format(
                    self.dataset_db_path, " ".join(str(exc).split())
                )
            ) from exc
        if self.lab is not None:  # the lab's loop design, as a real lab keeps it (calib.link.*)
            seed_lab_datasets(self.dataset_db, self.lab)
        self.progress = progress
        self.interactive_input = interactive_input
        self._own_session = session is None
        self.hardware_faithful = hardware_faithful
        stored = None if power_up else _load_stored(self._store)
        # The session sees the lab's own entries (class names, channels, sim_* keys).
        self.session = (
            _make_session(raw, seed, self.lab, vcd, hardware_faithful)
            if session is None
            else session
        )
        self._next_state: Any = None  # the state the next experiment starts from
        if stored is not None and self._own_session:
            self._continue_from(self.session, stored)
        self.scheduler = Scheduler()
        self.ccb = CCB()
        self._closed = False

    def output_paths(self) -> list[OutputPath]:
        """Every path this simulation writes (checked by :func:`~sim.outputs.prepare_outputs`
        before anything runs)."""
        outputs = []
        if self.write_results:
            outputs.append(OutputPath(self.results_dir, "results folder", folder=True))
        outputs.append(OutputPath(self.rid_counter.cache_file, "run-id file"))
        if self.dataset_db_path is not None:
            outputs.append(OutputPath(self.dataset_db_path, "dataset store"))
        if self.vcd:
            outputs.append(OutputPath(pathlib.Path(self.vcd), "VCD file"))
        if self._store.path is not None:
            outputs.append(OutputPath(self._store.path, "hardware-state file"))
        return outputs

    @functools.cached_property
    def provenance(self) -> Provenance:
        """Lab, device database, seed and code of this simulation (for the results files)."""
        return Provenance.of(
            lab=self.lab,
            lab_path=self._lab_path,
            device_db_path=self.device_db_path,
            seed=self.seed,
        )

    # -- lifecycle of the simulation ---------------------------------------------------------
    def close(self) -> None:
        """Save the dataset store and close the session (writes the VCD file)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.dataset_db.save()
        finally:
            self.dataset_db.close_db()
            if self._own_session and self.session is not None:
                self.session.close()

    def __enter__(self) -> "Simulation":
        return self

    # -- the hardware between experiments ------------------------------------------------------
    def _continue_from(self, session: Any, state: Any) -> None:
        """Restore ``state`` into the fresh ``session``; a different explicit seed re-seeds."""
        session.restore_state(state, self.seed)
        self.seed = session.seed

    def _end_of_experiment(self) -> None:
        """Capture the hardware state (settling the session) and store it."""
        if not self._own_session or not hasattr(self.session, "capture_state"):
            return
        try:
            state = self.session.capture_state()
        except Exception as exc:
            logger.warning(
                "cannot capture the simulated hardware state (%s: %s): the next run "
                "starts as after power-up",
                type(exc).__name__,
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            state = None
        self._next_state = state
        try:
            self._store.save(state)
        except OSError as exc:
            logger.error(
                "cannot save the simulated hardware state to %s: %s", self._store.path, exc
            )

    def _start_of_experiment(self) -> None:
        """A fresh session continues from the state the previous experiment left."""
        state, self._next_state = self._next_state, None
        if state is None or not self._own_session:
            return
        session = _make_session(
            self.raw_device_db, self.seed, self.lab, self.vcd, self.hardware_faithful
        )
        self._continue_from(session, state)
        if self.vcd:  # the VCD file shows the whole simulation
            session.previous_engines = [*self.session.previous_engines, self.session.engine]
        self.session = session

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- one experiment ------------------------------------------------------------------------
    def run(
        self,
        experiment: str | os.PathLike | type,
        class_name: str | None = None,
        arguments: dict | None = None,
        *,
        log_level: int | None = None,
    ) -> RunResult:
        """Run one experiment (a file, or an experiment class) and return its :class:`RunResult`.

        :raises InputError: the file cannot be loaded or no class can be selected (nothing ran).
        """
        arguments = dict(arguments or {})
        if isinstance(experiment, type):
            exp_cls = experiment
            file = getattr(sys.modules.get(exp_cls.__module__), "__file__", None) or "<none>"
        else:
            file = os.fspath(experiment)
            exp_cls = get_experiment(load_experiment_module(file), class_name)
        expid = {
            "log_level": logging.getLogger().getEffectiveLevel()
            if log_level is None
            else log_level,
            "file": str(file),
            "class_name": exp_cls.__name__,
            "arguments": arguments,
        }
        self._start_of_experiment()
        return _Run(self, exp_cls, expid).execute()


def run_experiment(
    experiment: str | os.PathLike | type,
    class_name: str | None = None,
    arguments: dict | None = None,
    **simulation_options: Any,
) -> RunResult:
    """Run one experiment in a fresh :class:`Simulation` (see its parameters) and close it."""
    with Simulation(**simulation_options) as simulation:
        return simulation.run(experiment, class_name, arguments)


class _Run:
    """State of one experiment run (rid, managers, timings) and its lifecycle."""

    def __init__(self, sim: Simulation, exp_cls: type, expid: dict):
        self.sim = sim
        self.exp_cls = exp_cls
        self.expid = expid
        self.rid = sim.rid_counter.get()
        self.start_time = time.time()
        self.run_time: float | None = None
        self.progress = _Progress(sim.progress, "{}-{}".format(self.rid, exp_cls.__name__))
        self.dataset_mgr = DatasetManager(sim.dataset_db, on_set=self.progress.on_set)
        sim.scheduler.set_run_info(self.rid, "main", expid, 0)
        self.device_mgr = DeviceManager(
            sim.device_db, {"scheduler": sim.scheduler, "ccb": sim.ccb}, session=sim.session
        )
        self.argument_mgr = _argument_manager_class()(expid["arguments"], sim.interactive_input)
        self.results_file: pathlib.Path | None = None
        self.async_errors_at_start = len(self._async_errors())
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
                exc = self._lifecycle()
        finally:
            self.progress.close()
            self.device_mgr.close_devices()
            self.sim.dataset_db.save()
            self.sim._end_of_experiment()
        code = EXIT_OK if exc is None else _exit_code_for(exc)
        if code == EXIT_OK and self.sim.scheduler.termination_requested():
            code = EXIT_TERMINATED
        if code == EXIT_TERMINATED:
            code = exit_status(received.signum)
        return RunResult(
            self.rid,
            self.exp_cls.__name__,
            code,
            self.results_file,
            exc,
            dict(self.dataset_mgr.local),
            self._summary(),
        )

    def _lifecycle(self) -> BaseException | None:
        managers: tuple[Any, Any, Any, dict[str, Any]] = (
            self.device_mgr,
            self.dataset_mgr,
            self.argument_mgr,
            {},
        )
        try:
            exp = self.exp_cls(managers)
            self.argument_mgr.check_unprocessed_arguments()
            exp.prepare()
        except BaseException as exc:  # noqa: B902 - Ctrl-C in build/prepare: nothing to write
            logger.debug("build/prepare failed", exc_info=True)
            return exc
        self.run_time = time.time()
        logger.info("RID %d: %s.run() starts", self.rid, self.exp_cls.__name__)
        try:
            try:
                exp.run()
            finally:
                self.device_mgr.notify_run_end()
        except BaseException as exc:
            logger.debug("run failed", exc_info=True)
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
        for key, value in self._summary().items():
            if value is None or key == "async_errors":
                continue
            put(DIAGNOSTICS_PREFIX + str(key), _hdf5_scalar(value))

    def _async_errors(self) -> list:
        return list(getattr(self.sim.session, "async_errors", None) or [])

    def _write(self) -> None:
        if not self.sim.write_results or self.results_file is not None:
            return
        from artiq import __version__ as artiq_version

        try:
            self._diagnostics()
        except Exception:
            logger.warning("cannot record simulator diagnostics", exc_info=True)
        path = results_path(self.sim.results_dir, self.rid, self.exp_cls.__name__, self.start_time)
        self.results_file = write_results(
            path,
            self.dataset_mgr,
            rid=self.rid,
            start_time=self.start_time,
            run_time=self.run_time,
            expid=self.expid,
            artiq_version=artiq_version,
            strict=False,
        )


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
