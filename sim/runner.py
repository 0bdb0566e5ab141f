# SPDX-License-Identifier: LGPL-3.0-or-later
"""Run ARTIQ experiment files in the simulator, like ``artiq_run`` with the master's results files.

A :class:`Simulation` holds the simulated lab (the RTIO engine, so the cursor and the RTIO counter
persist across kernels; between experiments the hardware state is captured and restored into a
fresh session, :mod:`sim.hwstate`, optionally kept on disk, :mod:`sim.state_file`), the transformed
device database, the dataset store and the run-id counter. :meth:`Simulation.run` goes through
ARTIQ's lifecycle: build (+ check of unused arguments) → prepare → run → ``notify_run_end`` →
analyze; the results file is written after analyze, or as soon as ``run()`` raises, never when
build or prepare fails. An experiment refused in build or prepare before any kernel ran never
reached the core device: the simulated lab is left as it was (:meth:`Simulation.run`); its rid
stays used, as the master's. The engine is installed as ARTIQ's time manager only while an
experiment runs (:func:`installed_time_manager`).

Exit codes (:class:`RunResult.exit_code`): 0 ok, 1 the experiment raised or what it made could
not all be saved where asked (:attr:`RunResult.not_saved`: a full disk), 2 bad input (arguments,
class selection, device database, device without model, an output path that cannot be written
or is on a full disk),
128 + the signal's number when a signal terminated the run (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP;
:mod:`sim.termination`), 130 when termination was requested otherwise. Every output path is
created or checked when the :class:`Simulation` is made (:mod:`sim.outputs`), before any
experiment is built.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
import sys
from typing import Any, Callable, Sequence

from sim import artiq_env
from sim.blas import single_threaded_blas
from sim.device_manager import DeviceDBError, load_device_db, transform_device_db
from sim.experiment_file import (
    ArgumentError,
    InputError,
    get_experiment,
    load_experiment_module,
    parse_arguments,
)
from sim.lab_datasets import (
    CalibrationWatch,
    seed_lab_datasets,
)
from sim.lab_resolution import no_lab_message, resolve_lab
from sim.lab_stores import (
    UnsavedRIDs,
    check_rids,
    claim_lab,
    load_stored,
    open_dataset_store,
)
from sim.outputs import (
    LMDB_ROOM,
    NotSaved,
    OutputPath,
    OutputPathError,
    cause,
    fallback_folders,
    not_saved_message,
    prepare_outputs,
    write_with_fallback,
)
from sim.provenance import NO_LAB, Provenance, lab_file, random_stream
from sim.results import RIDCounter
from sim.run import (
    DIAGNOSTICS_PREFIX,
    EXIT_BAD_INPUT,
    EXIT_EXPERIMENT_ERROR,
    EXIT_OK,
    EXIT_TERMINATED,
    PROGRESS_DATASET,
    Run,
    RunResult,
    installed_time_manager,
)
from sim.seed import check_seed
from sim.session_setup import make_session, open_tag_feed

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
    "DIAGNOSTICS_PREFIX",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# the simulation


class Simulation:
    """Runs experiments against one simulated Kasli (one session, one device database).

    :param device_db: path of the lab's ``device_db.py`` or its ``device_db`` dict (transformed
        here with :func:`~sim.device_manager.transform_device_db`).
    :param seed: seed of the session's random generator (``None``: a power-up draws one from
        the operating system's entropy, kept in :attr:`seed` and recorded in the results files
        and the state, so that ``seed=`` it repeats the simulation).
    :param lab: lab description (preset name, TOML path or loaded ``Lab``); default: ``lab.toml``
        next to ``device_db``, if present.
    :param results_dir: root of the results tree (only the results files go there).
    :param work_dir: the lab's working directory, as the ARTIQ master's: it holds
        ``last_rid.pyon``, and ``dataset_db.mdb`` unless ``dataset_db`` names another store
        (``sim_state/`` goes beside the store). Default ``None``: the results' parent, so that
        ``results_dir=scratch/"results"`` keeps a simulation's files in ``scratch``; the command
        lines give the current directory (``--results`` moves the results files alone).
    :param dataset_db: ``dataset_db.mdb`` path (default: in ``work_dir``); ``False`` keeps the
        master store in memory.
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
    :param tag_feed: ZeroMQ address of a time tagger's simulation feed
        (``aqctl_ionlink_timetagger --simulation``): every detector and PMT click is pushed there
        (:mod:`sim.tag_feed`).
    :param hardware_faithful: pulses through a Urukul not initialised since power-up do nothing
        (one warning), as on hardware, instead of stopping the experiment.
    :param link_down: DRTIO destinations whose link is down from the start (``--link-down``).
    :param lab_overrides: ``KEY=VALUE`` texts (``--set``) applied to the lab's TOML document and
        checked as it is; recorded in the results files' provenance. The hardware state is that
        of the lab without them (the same hardware at other settings).
    :param cost_profile: CPU-cost profile (name, path or profile; :mod:`sim.rtio.costs`).
    :param drawn_costs: draw CPU costs from their distributions (:mod:`sim.rtio.cost_spread`;
        ``True`` or a ``CostSpread``); default off, the deterministic mean costs. Read at each
        experiment's start (it may be changed between :meth:`run` calls).
    :param engine_setup: called with each new session's engine (e.g. a slack probe).
    :param read_only: read the dataset store and the stored hardware state, write neither, nor
        results files or ``last_rid.pyon`` (repeated runs that must leave the lab as it was,
        ``ionlink-sim slack``); only a VCD file is written.
    :param lab_required: refuse (``InputError``) to run without a lab description unless
        ``lab`` is ``"none"`` (the command lines); otherwise that is one warning.
    """

    def __init__(
        self,
        device_db: str | os.PathLike | dict = "device_db.py",
        *,
        seed: int | None = None,
        lab: Any = None,
        results_dir: str | os.PathLike = "results",
        work_dir: str | os.PathLike | None = None,
        dataset_db: str | os.PathLike | bool | None = None,
        vcd: str | None = None,
        progress: bool = False,
        write_results: bool = True,
        interactive_input: Callable[[str], str] | None = None,
        session: Any = None,
        state: bool | str | os.PathLike | None = None,
        power_up: bool = False,
        hardware_faithful: bool = False,
        link_down: Any = (),
        tag_feed: str | None = None,
        lab_overrides: Sequence[str] = (),
        cost_profile: Any = "kasli2",
        drawn_costs: Any = None,
        engine_setup: Callable[[Any], None] | None = None,
        read_only: bool = False,
        lab_required: bool = False,
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
        bad_seed = check_seed(seed)  # (the command lines refuse it where they parse it)
        if bad_seed is not None:
            raise InputError(bad_seed)
        self.seed = seed
        self.lab = resolve_lab(lab, ddb_path, lab_overrides)
        if self.lab is None and lab != NO_LAB:
            no_lab = no_lab_message(device_db if ddb_path is not None else None)
            if lab_required:
                raise InputError(no_lab)
            logger.warning("%s", no_lab)
        self._lab_path = lab_file(lab, ddb_path)
        self.results_dir = pathlib.Path(results_dir)
        base = (
            self.results_dir.resolve().parent
            if work_dir is None
            else pathlib.Path(work_dir).resolve()
        )
        self.read_only = read_only
        rids = UnsavedRIDs if read_only else RIDCounter
        self.rid_counter = rids(base / "last_rid.pyon", self.results_dir)
        self.dataset_db_path: pathlib.Path | None
        if dataset_db is False:
            self.dataset_db_path = None
        elif dataset_db is None or dataset_db is True:
            self.dataset_db_path = base / "dataset_db.mdb"
        else:
            self.dataset_db_path = pathlib.Path(dataset_db)
        state_dir = base if self.dataset_db_path is None else self.dataset_db_path.resolve().parent
        self.vcd = vcd
        self.write_results = write_results and not read_only
        self.cost_profile = cost_profile
        self.drawn_costs = drawn_costs
        self.engine_setup = engine_setup
        from sim.state_file import store_for

        # --set values are settings of the same lab: its hardware state carries over
        base_lab = resolve_lab(lab, ddb_path) if lab_overrides else self.lab
        self._store = store_for(state, state_dir, ddb_path, lab, raw, base_lab)
        try:
            prepare_outputs(self.output_paths())
        except OutputPathError as exc:
            raise InputError(str(exc)) from None
        check_rids(self.rid_counter)
        claim_lab(self._store, read_only)  # first: a lab held elsewhere opens nothing
        try:
            self.dataset_db = open_dataset_store(self.dataset_db_path, read_only)
            if self.lab is not None:  # the lab's loop design, as a real lab keeps it (calib.link.*)
                seed_lab_datasets(self.dataset_db, self.lab)
            #: warns when an experiment reads a calibration measured at another lab
            self.calibration_watch = (
                None if self.lab is None else CalibrationWatch(self.dataset_db, self.lab)
            )
            self.progress = progress
            self.interactive_input = interactive_input
            #: ``(arglist_desc, title) → values | None``: interactive arguments asked of the
            #: simulated master's clients (:mod:`sim.master.interactive_args`) instead
            self.interactive_arguments: Callable[[list, str], dict | None] | None = None
            self._own_session = session is None
            self.hardware_faithful = hardware_faithful
            self.link_down = tuple(link_down)
            stored = None if power_up else load_stored(self._store)
            # The session sees the lab's own entries (class names, channels, sim_* keys).
            self.session = self._new_session() if session is None else session
            self._next_state: Any = None  # the state the next experiment starts from
            #: the next experiment starts from :attr:`_next_state` even if None (a power-up):
            #: the last one was refused before it reached the hardware
            self._restart = False
            #: the state the running (or last) experiment's session started from: None for a
            #: power-up, :data:`_AS_LEFT` for the session an earlier experiment left
            self._started_from: Any = stored
            self._tag_feed = open_tag_feed(tag_feed, self.session)
            stored_seed = None if stored is None else stored.seed
            if stored is not None and self._own_session:
                self._continue_from(self.session, stored)
            elif self._own_session:  # a power-up: the seed given, or drawn from entropy
                self.seed = getattr(self.session, "seed", self.seed)
            #: where the random stream comes from (:func:`~sim.provenance.random_stream`)
            self.random_stream = (
                random_stream(
                    seed,
                    stored,
                    self._store.path,
                    reseeded=seed is not None and seed != stored_seed,
                )
                if self._own_session
                else ""
            )
        except BaseException:
            self._store.release()
            raise
        self.scheduler = Scheduler()
        self.ccb = CCB()
        self._closed = False
        #: what runs reported as not saved (:attr:`RunResult.not_saved`): not said again by close
        self.reported_not_saved: set[str] = set()
        #: the results file a run wrote last (set as it is written, signals held), or None
        self.last_results_file: pathlib.Path | None = None

    def output_paths(self) -> list[OutputPath]:
        """Every path this simulation writes (checked by :func:`~sim.outputs.prepare_outputs`
        before anything runs)."""
        outputs = []
        if self.read_only:
            return [OutputPath(pathlib.Path(self.vcd), "VCD file")] if self.vcd else []
        if self.write_results:
            outputs.append(OutputPath(self.results_dir, "results folder", folder=True))
        outputs.append(OutputPath(self.rid_counter.cache_file, "run-id file"))
        if self.dataset_db_path is not None:
            outputs.append(OutputPath(self.dataset_db_path, "dataset store", room=LMDB_ROOM))
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
            random_stream=self.random_stream,
        )

    # -- lifecycle of the simulation ---------------------------------------------------------
    def close(self) -> None:
        """Save the dataset store and close the session (writes the VCD file).

        :raises NotSaved: the dataset store or the VCD file could not be written (a full disk; a
            VCD file that cannot go where asked goes to a fallback folder if one takes it), in
            one line per problem not already reported by a run.
        """
        if self._closed:
            return
        self._closed = True
        problems: list[str] = []
        try:
            if not self.read_only:
                try:
                    self.dataset_db.save()
                except NotSaved as exc:
                    problems.append(str(exc))
        finally:
            self.dataset_db.close_db()
            try:
                if self._own_session and self.session is not None:
                    self._close_session(problems)
            finally:
                if self._tag_feed is not None:
                    self._tag_feed.close()
                self._store.release()
        problems = [p for p in problems if p not in self.reported_not_saved]
        if problems:
            raise NotSaved("\n".join(problems))

    def _close_session(self, problems: list[str]) -> None:
        """Close the session; a VCD file it cannot write goes to a fallback folder."""
        try:
            self.session.close()
        except OSError as exc:
            if not self.vcd:
                raise
            asked = pathlib.Path(self.vcd)
            saved = write_with_fallback(
                asked, lambda p: self.session.write_vcd(str(p)), fallback_folders(), exc
            )
            problems.append(
                not_saved_message(
                    "the folder of the VCD file {}".format(asked), "the VCD file was", saved
                )
            )

    def __enter__(self) -> "Simulation":
        return self

    # -- the hardware between experiments ------------------------------------------------------
    def _continue_from(self, session: Any, state: Any) -> None:
        """Restore ``state`` into the fresh ``session``; a different explicit seed re-seeds."""
        session.restore_state(state, self.seed)
        self.seed = session.seed

    def _forget_experiment(self) -> None:
        """End of an experiment that never reached the hardware (refused in build or prepare, no
        kernel run): the next one starts from the state this one started from (a power-up again
        if it was one), and nothing is stored. A session that continues as an earlier
        experiment left it (its state could not be captured) ends as after any experiment."""
        if not self._own_session or not hasattr(self.session, "capture_state"):
            return
        if self._started_from is _AS_LEFT:
            self._end_of_experiment()
            return
        self._next_state, self._restart = self._started_from, True

    def _end_of_experiment(self) -> None:
        """Capture the hardware state (settling the session) and store it."""
        if not self._own_session or not hasattr(self.session, "capture_state"):
            return
        try:
            state = self.session.capture_state()
        except Exception as exc:
            logger.warning(
                "cannot capture the simulated hardware state (%s: %s): the next run "
                "starts as after power-up (run Startup first)",
                type(exc).__name__,
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            state = None
            self._started_from = _AS_LEFT  # the next experiment continues this session
        self._next_state = state
        if self.read_only:
            return
        try:
            self._store.save(state)
        except OSError as exc:
            raise NotSaved(
                "hardware-state file {} could not be saved ({}): the next process does not "
                "continue from this run's hardware state".format(self._store.path, cause(exc))
            ) from exc

    def _new_session(self) -> Any:
        return make_session(
            self.raw_device_db,
            self.seed,
            self.lab,
            self.vcd,
            self.hardware_faithful,
            self.link_down,
            self.cost_profile,
            self.drawn_costs,
            self.engine_setup,
        )

    def _start_of_experiment(self) -> None:
        """A fresh session continues from the state the previous experiment left (after a
        refused experiment: the state that one started from, or a power-up)."""
        state, self._next_state = self._next_state, None
        restart, self._restart = self._restart, False
        if not self._own_session or (state is None and not restart):
            return
        session = self._new_session()
        if state is not None:
            self._continue_from(session, state)
        self._started_from = state
        if self.vcd:  # the VCD file shows the whole simulation (a refused one left nothing)
            earlier = self.session.previous_engines
            session.previous_engines = [*earlier] if restart else [*earlier, self.session.engine]
        self.session = session
        if self._tag_feed is not None:
            self._tag_feed.attach(session)

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.close()
            return
        try:  # the exception leaving the block is the one to raise
            self.close()
        except NotSaved as not_saved:
            for line in str(not_saved).splitlines():
                logger.error("%s", line)

    # -- one experiment ------------------------------------------------------------------------
    def run(
        self,
        experiment: str | os.PathLike | type,
        class_name: str | None = None,
        arguments: dict | None = None,
        *,
        log_level: int | None = None,
        rid: int | None = None,
    ) -> RunResult:
        """Run one experiment (a file, or an experiment class) and return its :class:`RunResult`
        (``rid``: a run id allocated at submission, default the next one).

        An experiment refused in build or prepare before any kernel ran (an argument out of
        range or not taken, a value outside its choices) never reached the core device: the
        hardware state, the random stream and the count of experiments stay as they were, and
        the stored state is not written (with ``power_up``, the power-up comes with the first
        experiment that runs). Its rid stays used, as the ARTIQ master's rid of an experiment
        whose build fails (allocated at submission); datasets it set are kept, as the master's.

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
        with single_threaded_blas():
            result = Run(self, exp_cls, expid, rid).execute()
        if self._tag_feed is not None:
            self._tag_feed.flush()  # the session has settled: every click is there
        return result


#: :attr:`Simulation._started_from` of a session that continues as an earlier experiment left it
#: (its state could not be captured): a refused experiment cannot be undone there
_AS_LEFT = object()


def run_experiment(
    experiment: str | os.PathLike | type,
    class_name: str | None = None,
    arguments: dict | None = None,
    **simulation_options: Any,
) -> RunResult:
    """Run one experiment in a fresh :class:`Simulation` (see its parameters) and close it."""
    with Simulation(**simulation_options) as simulation:
        return simulation.run(experiment, class_name, arguments)
