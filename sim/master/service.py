# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master: one :class:`~sim.runner.Simulation` (the lab day) whose experiments run
in a worker thread, served on ARTIQ's ports as ARTIQ's master serves them:

- notify port (3250, sync_struct): ``datasets`` (``{key: (persist, value, metadata)}``, every
  ``set_dataset(..., broadcast=True)``, ``mutate_dataset`` and ``append_to_dataset`` of a
  running experiment as it happens), ``schedule``, ``devices`` (the device database),
  ``explist`` and ``explist_status`` (the repository's experiments,
  :mod:`sim.master.experiment_db`), ``interactive_args`` (:mod:`sim.master.interactive_args`)
  and ``ccb_applets`` (ionlink's: the applets the experiments asked for);
- control port (3251, pc_rpc): ``dataset_db`` (``get``, ``get_metadata``, ``set``, ``delete``,
  ``update``), ``schedule`` (:mod:`sim.master.schedule`), ``device_db`` (``get_device_db``,
  ``get``, ``scan``), ``experiment_db`` (``scan_repository``, ``scan_repository_async``,
  ``examine``, ``list_directory``, ``root``), ``interactive_arg_db`` (``supply``, ``cancel``)
  and ``master_management`` (``get_name``, ``terminate``);
- broadcast port (1067): the experiments' ``ccb`` calls on the ``ccb`` channel and the log (the
  master's records, the running experiment's, the controllers') on the ``log`` channel
  (:mod:`sim.master.log_channel`);
- logging port (1066, :mod:`comms.remote_log`): the controllers' log records, logged as the
  master's with the controller's source.

By default it binds 127.0.0.1 and ::1 as ARTIQ's master does. Protocol implementations come from
:func:`comms.backend.protocols` (sipyco where installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import pathlib
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Sequence, TextIO, cast

from comms import remote_log
from comms.backend import protocols
from comms.rpc_surface import rpc_surface
from comms.server import TCPServer
from sim.master.ccb import MasterCCB, apply_ccb
from sim.master.experiment_db import ExperimentDB
from sim.master.interactive_args import InteractiveArgDB
from sim.master.live_store import LiveDatasetDB
from sim.master.log_channel import (
    LOG_CHANNEL,
    LogForwarder,
    LogMessage,
    RunSources,
    SourceLevels,
    worker_source,
)
from sim.master.run_output import RunOutput
from sim.master.schedule import RunOutcome, Schedule
from sim.termination import SignalInterrupt

__all__ = ["Master", "MasterPorts", "DEFAULT_PORTS", "probe_ports"]

logger = logging.getLogger(__name__)
#: The simulated worker's logger (the run's own reports, as ARTIQ's worker makes them).
_worker_logger = logging.getLogger("sim.runner")


@dataclass(frozen=True)
class MasterPorts:
    """TCP ports, ARTIQ's master defaults."""

    notify: int = 3250
    control: int = 3251
    broadcast: int = 1067
    logging: int = 1066


DEFAULT_PORTS = MasterPorts()
#: How long a stopping master keeps its control port open for clients that wait for a run's
#: outcome to fetch it (s; ``submit --wait`` polls every 0.2 s).
OUTCOME_GRACE_S = 2.0
_SCHEDULE_RPC = ("submit", "delete", "request_termination", "get_status", "get_outcome")
_EXPERIMENT_DB_RPC = (
    "scan_repository",
    "scan_repository_async",
    "examine",
    "list_directory",
    "root",
)


async def probe_ports(bind: Sequence[str] | None, ports: MasterPorts) -> None:
    """Listen on every port at ``bind`` as :meth:`Master.start` will, all at once, then close
    them: a port already in use is found before the simulation creates its files.

    :raises OSError: a port cannot be listened on (the operating system's message)."""
    hosts = None if bind is None else list(bind)
    probes: list[TCPServer] = []
    try:
        for port in (ports.notify, ports.control, ports.broadcast, ports.logging):
            probe = TCPServer()
            await probe.start(hosts, port)
            probes.append(probe)
    finally:
        for probe in probes:
            await probe.stop()


class _DeviceDB:
    """The ``device_db`` RPC target (read only)."""

    def __init__(self, raw: dict):
        self._raw = raw

    def get_device_db(self) -> dict:
        """The whole device database."""
        return self._raw

    def get(self, key: str, resolve_alias: bool = False) -> Any:
        """One entry (following aliases if ``resolve_alias``)."""
        desc = self._raw[key]
        while resolve_alias and isinstance(desc, str):
            desc = self._raw[desc]
        return desc

    def scan(self) -> None:
        """Re-read the device database (the simulation's is fixed for the master's life)."""


class Master:
    """Serve a simulation.

    :param simulation: the :class:`~sim.runner.Simulation` (closed by :meth:`stop`).
    :param repository: where experiment files named relative are found.
    :param bind: addresses to listen on (``None``: every interface).
    :param ports: the ports.
    :param name: the master's name (``master_management.get_name``).
    :param on_applet: called in the event loop when an experiment asks for an applet
        (``create_applet``), with the applet's name.
    :param lab_master: scan the repository for the experiment list at start and take
        interactive arguments from the clients (``False``: ``run --live``'s one run, whose
        interactive requests go to the simulation's own ``interactive_input``; a client's
        ``scan_repository`` still lists the folder).
    :param log_level: the master's own log records are broadcast from this level up (ARTIQ's
        default: WARNING; the experiments' from their expid's ``log_level``).
    """

    def __init__(
        self,
        simulation: Any,
        repository: str | pathlib.Path,
        *,
        bind: Sequence[str] | None = ("127.0.0.1", "::1"),
        ports: MasterPorts = DEFAULT_PORTS,
        name: str | None = None,
        on_applet: Callable[[str], None] | None = None,
        lab_master: bool = True,
        log_level: int = logging.WARNING,
    ):
        self.sim = simulation
        self.repository = pathlib.Path(repository)
        self.bind = None if bind is None else list(bind)
        self.ports = ports
        self.name = name
        self.on_applet = on_applet
        self.lab_master = lab_master
        self.proto = protocols()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.terminated = asyncio.Event()
        self._servers: list[Any] = []
        self.datasets: Any = None
        self.applets: Any = None
        self.broadcaster: Any = None
        self.experiment_db: ExperimentDB | None = None
        self._runs = RunSources()
        #: where each log record comes from and whether it passes its source's level (the
        #: master's console handler may share it, as ARTIQ's master filters every handler)
        self.log_levels = SourceLevels(self._runs, log_level)
        self._log_forwarder = LogForwarder(self._post_log, self.log_levels)
        self._output: RunOutput | None = None
        self.schedule = Schedule(
            self._run,
            simulation.rid_counter.get,
            self.repository,
            self._post_call,
            simulation.scheduler.request_termination,
        )

    # -- thread-safe hand-over to the event loop ---------------------------------------------
    def _post_call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.loop is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(functools.partial(fn, *args))

    def _post_dataset_mod(self, mod: dict) -> None:
        self._post_call(self.proto.sync_struct.process_mod, self.datasets, mod)

    def _post_ccb(self, message: dict) -> None:
        self._post_call(self._on_ccb, message)

    def _post_log(self, message: LogMessage) -> None:
        self._post_call(self._broadcast_log, message)

    def _broadcast_log(self, message: LogMessage) -> None:
        if self.broadcaster is not None:
            self.broadcaster.broadcast(LOG_CHANNEL, message.to_wire())

    def _on_ccb(self, message: dict) -> None:
        self.broadcaster.broadcast("ccb", message)
        try:
            created = apply_ccb(self.applets, message)
        except (KeyError, IndexError, TypeError) as exc:
            logger.warning("malformed ccb call %s: %s", message, exc)
            return
        if created is not None and self.on_applet is not None:
            self.on_applet(created)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Install the live store and the devices, start the servers and the worker."""
        self.loop = asyncio.get_running_loop()
        ss = self.proto.sync_struct
        live = LiveDatasetDB(self.sim.dataset_db, self._post_dataset_mod)
        self.datasets = ss.Notifier(live.snapshot())
        self.sim.dataset_db = live
        self.sim.ccb = MasterCCB(self._post_ccb)
        self._route_submissions()
        self.applets = ss.Notifier({})
        self.schedule.notifier = ss.Notifier({})
        self.experiment_db = ExperimentDB(self.repository, self.sim.raw_device_db, live, ss)
        scheduler = self.sim.scheduler
        interactive = InteractiveArgDB(ss, self._post_call, scheduler.check_termination)
        if self.lab_master:
            self.sim.interactive_arguments = functools.partial(self._ask_arguments, interactive)
        publisher = ss.Publisher(
            {
                "datasets": self.datasets,
                "schedule": self.schedule.notifier,
                "devices": ss.Notifier(dict(self.sim.raw_device_db)),
                "explist": self.experiment_db.explist,
                "explist_status": self.experiment_db.status,
                "interactive_args": interactive.pending,
                "ccb_applets": self.applets,
            }
        )
        management = SimpleNamespace(get_name=lambda: self.name, terminate=self.terminated.set)
        control = self.proto.pc_rpc.Server(
            {
                "dataset_db": rpc_surface(live, ["get", "get_metadata", "set", "delete", "update"]),
                "schedule": rpc_surface(self.schedule, _SCHEDULE_RPC),
                "device_db": rpc_surface(_DeviceDB(self.sim.raw_device_db)),
                "experiment_db": rpc_surface(self.experiment_db, _EXPERIMENT_DB_RPC),
                "interactive_arg_db": rpc_surface(interactive, ["supply", "cancel"]),
                "master_management": management,
            },
            "ionlink simulated master",
            allow_parallel=True,
        )
        self.broadcaster = self.proto.broadcast.Broadcaster()
        for server, port in (
            (publisher, self.ports.notify),
            (control, self.ports.control),
            (self.broadcaster, self.ports.broadcast),
            (remote_log.Server(), self.ports.logging),
        ):
            await server.start(self.bind, port)
            self._servers.append(server)
        logging.getLogger().addHandler(self._log_forwarder)
        if self.lab_master:  # the runs' printed lines to the log (run --live: the terminal)
            self._output = RunOutput(sys.stdout)
            sys.stdout = cast(TextIO, self._output)
        self.schedule.start()
        if self.lab_master:
            self.experiment_db.scan_repository_async()
        logger.info(
            "simulated master ready (%s): notify %d, control %d, broadcast %d, logging %d on %s",
            self.proto.source,
            self.ports.notify,
            self.ports.control,
            self.ports.broadcast,
            self.ports.logging,
            "every interface" if self.bind is None else ", ".join(self.bind),
        )

    def _ask_arguments(
        self, interactive: InteractiveArgDB, arglist_desc: list, title: str
    ) -> dict | None:
        """The running experiment's interactive arguments, from the clients (worker thread)."""
        return interactive.request(self.sim.scheduler.rid, arglist_desc, title)

    def _route_submissions(self) -> None:
        """Experiments' own ``scheduler.submit`` goes to the master's queue."""
        scheduler, schedule = self.sim.scheduler, self.schedule

        def submit(
            pipeline_name: str | None = None,
            expid: dict | None = None,
            priority: int | None = None,
            due_date: float | None = None,
            flush: bool = False,
        ) -> int:
            return schedule.submit(
                pipeline_name or "main",
                scheduler.expid if expid is None else expid,
                scheduler.priority if priority is None else priority,
                due_date,
                flush,
            )

        scheduler.submit = submit
        scheduler.get_status = schedule.get_status

    async def stop(self) -> None:
        """Terminate the running experiment, stop the worker, let waiting clients fetch how
        their runs ended (up to :data:`OUTCOME_GRACE_S`), stop the servers, close the
        simulation (saving the dataset store)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.schedule.stop)
        await loop.run_in_executor(None, self.schedule.wait_collected, OUTCOME_GRACE_S)
        if self.experiment_db is not None:
            await self.experiment_db.stop()
        logging.getLogger().removeHandler(self._log_forwarder)
        if self._output is not None and sys.stdout is cast(TextIO, self._output):
            sys.stdout = self._output.stream
        for server in reversed(self._servers):
            await server.stop()
        self._servers.clear()
        self.sim.close()

    # -- one run (worker thread) ----------------------------------------------------------------
    def _run(self, rid: int, file: pathlib.Path, expid: dict) -> RunOutcome:
        from sim.runner import InputError

        logger.info("RID %d: %s starts", rid, file)
        try:
            result = self._run_in_worker(rid, file, expid)
        except InputError as exc:
            logger.error("RID %d: %s", rid, exc)
            return RunOutcome(rid, 2, "bad input", None, str(exc))
        at_once = isinstance(result.exception, SignalInterrupt)
        if at_once:
            logger.warning(
                "RID %d: stopped at once by a second %s: %s",
                rid,
                result.exception,
                result.results_file,
            )
        elif result.status == "terminated":  # asked for (a client, the master stopping): no error
            logger.warning("RID %d: terminated as requested: %s", rid, result.results_file)
        elif result.exit_code:
            logger.error("RID %d: %s", rid, result.error_message or result.status)
        else:
            logger.info("RID %d done: %s", rid, result.results_file)
        return RunOutcome(
            rid,
            result.exit_code,
            result.status,
            None
            if result.results_file is None
            else str(pathlib.Path(result.results_file).resolve()),
            result.error_message,
            stopped_at_once=at_once,
        )

    def _run_in_worker(self, rid: int, file: pathlib.Path, expid: dict) -> Any:
        """Run the experiment; its log records, its printed lines (a lab master's) and, if it
        raised, the exception with its traceback (at ERROR, as ARTIQ's worker reports it) are the
        source ``worker(RID,file)``'s.

        :raises InputError: the file cannot be loaded or no class can be selected."""
        log_level = expid.get("log_level")
        level = logging.WARNING if log_level is None else int(log_level)
        source = worker_source(rid, file)
        output = self._output.captured(source) if self._output else contextlib.nullcontext()
        with self._runs.running(source, level), output:
            result = self.sim.run(
                file,
                expid.get("class_name"),
                dict(expid.get("arguments") or {}),
                log_level=log_level,
                rid=rid,
            )
            if result.status == "error" and result.exception is not None:
                _worker_logger.error(
                    "Terminating with exception (%s)",
                    _one_line(result.exception),
                    exc_info=result.exception,
                )
        return result


def _one_line(exc: BaseException) -> str:
    """``"Type: first line of the message"`` (``"Type"`` if the message is empty)."""
    lines = str(exc).splitlines()
    return "{}: {}".format(type(exc).__name__, lines[0]) if lines else type(exc).__name__
