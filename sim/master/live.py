# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim run --live``: the run served by a simulated master on ARTIQ's ports (so any
client or applet can follow it too) and a window with the applets the experiment asks for
(:class:`applets.host.AppletHost`, in this process). The window stays open after the run; closing
it (or Ctrl-C, SIGTERM) during the run requests termination (the results file is written). Exit
status: the run's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pathlib
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
    master = Master(simulation, file.parent, bind=LOCALHOST, lab_master=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    ports = DEFAULT_PORTS
    host = AppletHost("::1", ports.notify, ports.control, ports.broadcast, title=file.name)
    try:
        return loop.run_until_complete(_live(master, host, app, file, args, arguments))
    finally:
        loop.close()


async def _live(master: Any, host: Any, app: Any, file: Any, args: Any, arguments: dict) -> int:
    from applets.signals import close_on_signals
    from sim.runner import InputError

    try:
        await master.start()
    except OSError as exc:
        await master.stop()
        raise InputError("cannot listen on the master's ports: {}".format(exc)) from exc
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    close_on_signals(closed.set, app, asyncio.get_running_loop())
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
        closing = asyncio.ensure_future(closed.wait())
        await asyncio.wait([done, closing], return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            master.schedule.request_termination(rid)
        outcome = await done
        if outcome is None:
            return 1
        summary = "RID {}: {}".format(rid, outcome.status)
        if outcome.results_file:
            print("results: {}".format(outcome.results_file))
        if outcome.exit_code:
            logger.error("%s: %s", summary, outcome.error)
        host.setWindowTitle("{} — {} (close the window to exit)".format(file.name, summary))
        await closing
        return int(outcome.exit_code)
    finally:
        await host.close_connections()
        await master.stop()
