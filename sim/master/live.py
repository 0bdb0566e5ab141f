# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim run --live``: the run served by a simulated master on ARTIQ's ports (so any
client or applet can follow it too) and a window with the applets the experiment asks for
(:class:`applets.host.AppletHost`, in this process). The window stays open after the run, until
it is closed (or a termination signal comes: with no display, it takes one to end). Closing it
during the run requests termination (the results file is written; exit status 130), as Ctrl-C,
SIGTERM and SIGHUP do (exit status 128 + the signal's number, as ``run``'s); a second signal
stops the run at once, as ``run``'s does. Exit status: the run's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pathlib
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["run_live"]

logger = logging.getLogger(__name__)


def run_live(args: argparse.Namespace, arguments: dict) -> int:
    """Run ``args.file`` with ``arguments`` live; returns the exit status."""
    from sim.master.launcher import has_display
    from sim.runner import InputError

    try:
        from pyqtgraph.Qt import QtWidgets
        from qasync import QEventLoop

        from applets.host import AppletHost
    except ImportError as exc:
        raise InputError(
            "--live needs PyQt6, pyqtgraph and qasync (pip install 'ionlink[gui]'): {}".format(exc)
        ) from None
    if not has_display():
        raise InputError("--live needs a display (DISPLAY or WAYLAND_DISPLAY, or QT_QPA_PLATFORM)")
    from comms.common_args import LOCALHOST
    from sim.cli_simulation import make_simulation
    from sim.master.service import DEFAULT_PORTS, Master, probe_ports

    try:  # before the simulation creates the dataset store, results/ and sim_state/
        asyncio.run(probe_ports(LOCALHOST, DEFAULT_PORTS))
    except OSError as exc:
        raise InputError("cannot listen on the master's ports: {}".format(exc)) from exc
    simulation = make_simulation(args)
    file = pathlib.Path(os.path.abspath(args.file))
    ports = DEFAULT_PORTS
    master = Master(simulation, file.parent, bind=LOCALHOST, ports=ports, lab_master=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    host = AppletHost("::1", ports.notify, ports.control, ports.broadcast, title=file.name)
    try:
        return loop.run_until_complete(_live(master, host, app, file, args, arguments))
    finally:
        loop.close()


@dataclass
class _LiveStop:
    """How the live run was asked to stop: ``asked`` is set by the window's closing or a
    termination signal; ``signum``: the last signal (``None``: the window was closed)."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)
    signum: int | None = None
    #: the run has ended: a signal now only closes the window
    ended: bool = False
    #: a signal came while the run saved its results, and that was said
    said_saving: bool = False


async def _live(master: Any, host: Any, app: Any, file: Any, args: Any, arguments: dict) -> int:
    from sim.runner import InputError
    from sim.termination import exit_status

    try:
        await master.start()
    except OSError as exc:
        await master.stop()
        raise InputError("cannot listen on the master's ports: {}".format(exc)) from exc
    stop = _LiveStop()
    app.lastWindowClosed.connect(stop.asked.set)
    _on_signals(stop, master, app)
    try:
        await host.connect()
        host.show()
        expid = {
            "log_level": logging.getLogger().getEffectiveLevel(),
            "file": str(file),
            "class_name": args.class_name,
            "arguments": arguments,
        }
        rid = master.schedule.submit("main", expid)
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(None, master.schedule.wait_outcome, rid)
        closing = asyncio.ensure_future(stop.asked.wait())
        await asyncio.wait([done, closing], return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            master.schedule.request_termination(rid)
        outcome = await done
        stop.ended = True
        if outcome is None:
            return 1
        exit_code = int(outcome.exit_code)
        if outcome.status == "terminated" and exit_code == exit_status(None) and stop.signum:
            exit_code = exit_status(stop.signum)  # 143 for SIGTERM, 129 SIGHUP, as ``run``
        elif outcome.status == "ok" and stop.signum:
            print(
                "ionlink-sim: {} came after the experiment's last termination check: it ran to "
                "its end (exit status 0)".format(signal.Signals(stop.signum).name),
                file=sys.stderr,
            )
        # (the master's own log has said how the run ended: an error, or terminated as asked)
        if outcome.results_file:
            print("results: {}".format(outcome.results_file))
        summary = "RID {}: {}".format(rid, outcome.status)
        host.setWindowTitle("{} — {} (close the window to exit)".format(file.name, summary))
        await closing
        return exit_code
    finally:
        await host.close_connections()
        await master.stop()


def _on_signals(stop: _LiveStop, master: Any, app: Any) -> None:
    """Ctrl-C, SIGTERM and SIGHUP act as closing the window (the run is asked to terminate; its
    exit status then 128 + the signal's number, as ``run``'s); one while it is asked already
    stops the run at once, as ``run``'s second signal does (:func:`applets.signals.close_on_signals`
    wakes Python's handlers while Qt waits)."""
    from applets.signals import close_on_signals
    from sim.termination import TERMINATION_SIGNALS, ThreadInterrupt, requested_line

    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        again = stop.asked.is_set()
        stop.signum = signum
        stop.asked.set()
        if stop.ended:
            return
        if not again:
            print(requested_line(signum), file=sys.stderr)
            return
        interruption = master.schedule.interrupt(signum)
        if interruption is None:
            return
        if interruption.how is ThreadInterrupt.RAISED:
            logger.warning(
                "%s again: RID %d is stopped at once", signal.Signals(signum).name, interruption.rid
            )
        elif not stop.said_saving:
            stop.said_saving = True
            print("ionlink-sim: saving the results first", file=sys.stderr)

    close_on_signals(on_signal, app, loop, TERMINATION_SIGNALS)
