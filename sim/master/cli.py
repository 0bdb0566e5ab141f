# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim master`` (serve a simulation as ARTIQ's master serves a lab) and
``ionlink-sim submit`` (queue an experiment on it, like ``artiq_client submit``).

``master`` takes the simulation options of ``run`` plus ``-r/--repository``, ARTIQ's network
options (``--bind``, ``--no-localhost-bind``, ``--port-notify``, ``--port-control``,
``--port-broadcast``, ``--port-logging``), ``--name`` and ``--no-applets``. It runs until
Ctrl-C/SIGTERM/SIGHUP or a client calls ``master_management.terminate()``; the running
experiment is then asked to terminate (its results file is written), the pending runs are
dropped (their outcome: not run) and the dataset store saved, exit status 0; a client waiting for
a run's outcome (``submit --wait``) gets it before the control port closes. A signal once it is
stopping does what ``run``'s second signal does: it stops the running experiment at once (its
results file is written, marked ``ionlink.sim.stopped_at_once``; the run's exit status 128 + the
signal's number) or, while the run is saving its results, lets the save end (``saving the
results of RID n first``; a terminated run's exit status 128 + the signal's number); the master
exits 128 + the signal's number.

``submit`` exits 0 once the master accepted the run (with ``--wait``: the run's own exit status,
and a line saying how it ended; 4, :data:`~sim.master.schedule.EXIT_NOT_RUN`, for a run that
never ran: deleted while pending, or the master stopped first), 2 for bad input (an experiment
file the master does not find, bad arguments, no master), and 3 (:data:`MASTER_LOST`) when the
connection to the master ended before the run's outcome was known.

A port ``master`` cannot listen on (one in use) is one line and exit status 2, found before the
simulation creates or opens anything in the working directory
(:func:`~sim.master.service.probe_ports`).
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import signal
import sys
import time
from typing import Any, Callable

from comms.common_args import bind_address_from_args, port_arg, simple_network_args

__all__ = ["add_parsers", "cmd_master", "cmd_submit", "COMMANDS"]

logger = logging.getLogger(__name__)

PORTS = (
    ("notify", "notifications (sync_struct)", 3250),
    ("control", "control (pc_rpc)", 3251),
    ("broadcast", "broadcasts (log, ccb)", 1067),
    ("logging", "remote logging (controllers' log)", 1066),
)


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``master`` and ``submit`` to the ``ionlink-sim`` sub-parsers."""
    from sim.cli_simulation import simulation_options

    master = sub.add_parser("master", help="serve simulated runs on ARTIQ's master ports")
    simulation_options(master)
    master.add_argument(
        "-r",
        "--repository",
        default="repository",
        help="where experiment files named relative are found (default: %(default)s)",
    )
    simple_network_args(master, PORTS)
    master.add_argument("--name", default=None, help="name shown to clients")
    master.add_argument(
        "--no-applets",
        action="store_true",
        help="do not open the applet window when an experiment asks for applets",
    )
    common(master)

    submit = sub.add_parser("submit", help="queue an experiment on a simulated (or ARTIQ) master")
    submit.add_argument("file", metavar="EXPERIMENT", help="experiment file")
    submit.add_argument("arguments", metavar="KEY=VALUE", nargs="*", help="arguments, PYON")
    submit.add_argument("-c", "--class-name", default=None, help="class to run")
    submit.add_argument("-s", "--server", default="::1", help="master (default: %(default)s)")
    submit.add_argument("--port", type=port_arg, default=3251, help="control port (default: 3251)")
    submit.add_argument("-p", "--priority", type=int, default=0, help="priority (default: 0)")
    submit.add_argument(
        "-R", "--repository", action="store_true", help="the file is in the master's repository"
    )
    submit.add_argument(
        "-w", "--wait", action="store_true", help="wait for the run and exit with its status"
    )
    common(submit)


def _ports(args: argparse.Namespace) -> Any:
    from sim.master.service import MasterPorts

    return MasterPorts(args.port_notify, args.port_control, args.port_broadcast, args.port_logging)


def cmd_master(args: argparse.Namespace) -> int:
    """``ionlink-sim master``."""
    from sim.cli_simulation import make_simulation
    from sim.master.launcher import AppletLauncher
    from sim.master.service import Master
    from sim.path_hint import relative_path_hint
    from sim.runner import InputError

    repository = pathlib.Path(args.repository)
    if not repository.is_dir():
        raise InputError(
            "repository '{}' is not a folder{}".format(
                args.repository, relative_path_hint(repository, "-r ")
            )
        )
    bind = bind_address_from_args(args)
    ports = _ports(args)
    import asyncio  # here: every other ionlink-sim command would pay ~50 ms for it

    from sim.master.service import probe_ports

    try:  # before the simulation creates the dataset store, results/ and sim_state/
        asyncio.run(probe_ports(bind, ports))
    except OSError as exc:
        raise InputError("cannot listen: {}".format(exc)) from exc
    launcher = None
    if not args.no_applets:
        host = "::1" if bind is None or "::1" in bind else bind[0]
        launcher = AppletLauncher(host, ports.notify, ports.control, ports.broadcast)
    simulation = make_simulation(args)
    master = Master(
        simulation,
        repository,
        bind=bind,
        ports=ports,
        name=args.name,
        on_applet=None if launcher is None else launcher.ensure_running,
        log_level=logging.getLogger().getEffectiveLevel(),
    )
    for handler in logging.getLogger().handlers:  # a run's records at its own level, as ARTIQ's
        handler.addFilter(master.log_levels)
    try:
        return asyncio.run(_serve(master))
    finally:
        if launcher is not None:
            launcher.stop()


async def _serve(master: Any) -> int:
    import asyncio

    from sim.runner import InputError
    from sim.termination import TERMINATION_SIGNALS, ThreadInterrupt

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    again: list[int] = []  # the signals that came once the master was stopping
    saving: list[int] = []  # the runs said to be saving their results (said once)

    def on_signal(signum: int) -> None:
        if not (stop.is_set() or master.terminated.is_set()):
            stop.set()
            return
        again.append(signum)
        interruption = master.schedule.interrupt(signum)
        if interruption is None:
            return
        name = signal.Signals(signum).name
        if interruption.how is ThreadInterrupt.RAISED:
            logger.warning(
                "%s again: RID %d is stopped at once (its results file is written, marked "
                "ionlink.sim.stopped_at_once)",
                name,
                interruption.rid,
            )
        elif interruption.rid not in saving:  # it has ended: its results file is being written
            saving.append(interruption.rid)
            logger.warning("%s again: saving the results of RID %d first", name, interruption.rid)

    for signum in TERMINATION_SIGNALS:  # (SIGHUP: a closing terminal, as for ``run``)
        if signum in (signal.SIGINT, signal.SIGTERM) or signal.getsignal(signum) != signal.SIG_IGN:
            loop.add_signal_handler(signum, on_signal, signum)  # (not a SIGHUP nohup ignores)
    try:
        await master.start()
    except OSError as exc:
        await master.stop()
        raise InputError("cannot listen: {}".format(exc)) from exc
    print("ionlink simulated master is ready.", flush=True)
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(master.terminated.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for w in waiters:
        w.cancel()
    stop.set()
    logger.warning(
        "stopping: the running experiment is asked to terminate (Ctrl-C or SIGTERM again to "
        "stop it at once)"
    )
    await master.stop()
    return 128 + again[-1] if again else 0


def cmd_submit(args: argparse.Namespace) -> int:
    """``ionlink-sim submit``: prints the run id; with ``--wait`` the run's outcome."""
    from comms.backend import protocols
    from sim.experiment_file import check_experiment_file
    from sim.runner import InputError, parse_arguments

    arguments = parse_arguments(args.arguments)
    file = args.file if args.repository else os.path.abspath(args.file)
    if not args.repository:
        check_experiment_file(args.file)
    expid: dict[str, Any] = {
        "log_level": logging.WARNING,
        "file": file,
        "class_name": args.class_name,
        "arguments": arguments,
    }
    if args.repository:
        expid["repo_rev"] = None
    pc_rpc = protocols().pc_rpc
    try:
        client = pc_rpc.Client(args.server, args.port, "schedule", timeout=30)
    except OSError as exc:
        raise InputError("no master at [{}]:{}: {}".format(args.server, args.port, exc)) from None
    where = "[{}]:{}".format(args.server, args.port)
    try:
        try:
            rid = client.submit("main", expid, args.priority, None, False)
        except Exception as exc:
            if hasattr(exc, "parent_traceback"):  # the master's answer (comms.rpc_wire)
                raise InputError(
                    "the master at {} refused the experiment: {}".format(where, exc)
                ) from None
            if isinstance(exc, (EOFError, OSError)):
                return _lost(where, "before it acknowledged the submission", exc)
            raise
        print("RID: {}".format(rid), flush=True)
        if not args.wait:
            return 0
        try:
            return _wait(client, rid, where)
        except (EOFError, OSError) as exc:
            return _lost(
                where,
                "while RID {} was queued or running; its outcome is unknown (a master that "
                "stops cleanly terminates the run and writes its results file)".format(rid),
                exc,
            )
    finally:
        client.close_rpc()


#: ``submit``'s exit status when the master went away before the run's outcome was known.
MASTER_LOST = 3


def _lost(where: str, when: str, exc: BaseException) -> int:
    """One line: the connection to the master ended ``when``; :data:`MASTER_LOST`."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    sys.stderr.write(
        "ionlink-sim: error: lost the master at {} {}: {}\n".format(where, when, reason)
    )
    return MASTER_LOST


def _wait(client: Any, rid: int, where: str = "") -> int:
    """Wait for run ``rid``'s outcome and report it (the master at ``where``); its exit status.
    Ctrl-C (or SIGTERM) stops the waiting, not the run: one line says so, 128 + the signal."""
    from sim.runner import InputError
    from sim.termination import exit_status, signals_interrupt

    try:
        get_outcome = client.get_outcome
    except AttributeError:
        raise InputError(
            "--wait needs ionlink-sim master (ARTIQ's master has no get_outcome)"
        ) from None
    try:
        with signals_interrupt():  # (SIGTERM and SIGHUP as Ctrl-C)
            while True:
                outcome = get_outcome(rid)
                if outcome is not None:
                    break
                time.sleep(0.2)
    except KeyboardInterrupt as exc:
        sys.stderr.write(
            "ionlink-sim: stopped waiting: RID {} goes on on the master{} (the dashboard, or "
            "schedule.request_termination({}) over pc_rpc, stops it)\n".format(
                rid, " at " + where if where else "", rid
            )
        )
        return exit_status(getattr(exc, "signum", signal.SIGINT))
    if outcome["status"] in ("deleted", "not run"):  # it never ran: no results file
        sys.stderr.write("ionlink-sim: RID {} was {}\n".format(rid, _not_run(outcome)))
        return int(outcome["exit_code"])
    if outcome["results_file"]:
        print("results: {}".format(outcome["results_file"]))
    if outcome["exit_code"]:
        if outcome.get("stopped_at_once"):
            detail = "stopped at once by a second signal to the master: the experiment did not "
            detail += "finish its records (its results file says so in ionlink.sim.stopped_at_once)"
        elif outcome["status"] == "terminated":
            detail = "the master stopped or termination was requested; the results file holds "
            detail += "what it recorded" if outcome["results_file"] else "nothing (none written)"
        else:
            detail = outcome["error"]
        sys.stderr.write("ionlink-sim: RID {} {}: {}\n".format(rid, outcome["status"], detail))
    return int(outcome["exit_code"])


def _not_run(outcome: dict) -> str:
    """Why a run never ran, after "RID n was"."""
    if outcome["status"] == "deleted":
        return "deleted before it ran"
    return "not run: {}".format(outcome["error"] or "the master stopped before it started")


COMMANDS = {"master": cmd_master, "submit": cmd_submit}
