# SPDX-License-Identifier: LGPL-3.0-or-later
"""ionlink's small applet host: one window showing the applets the experiments ask for, without
ARTIQ's dashboard.

It follows a master (``ionlink-sim master``, or ARTIQ's own): the ``datasets`` notifier once
for all applets, the experiments' ``create_applet``/``disable_applet`` calls from the
``ccb_applets`` notifier of ``ionlink-sim master`` (which replays those made before the host
connected) and from the ``ccb`` broadcast (ARTIQ's master). Applets of this package
(``${python} -m applets.NAME ...``) run inside the window, fed as ARTIQ's ``TitleApplet``
feeds them; any other command is started as its own process, standalone, against the same
master (``${python}``, ``${artiq_applet}``, ``${server}``, ``${port_notify}``,
``${port_control}`` substituted as the dashboard does).

``python -m applets.host [--server ::1] [--ionlink]``: ``--ionlink`` shows ionlink's applets
from the start (for a master that does not relay ``ccb`` calls). Closing the window, Ctrl-C or
SIGTERM end it (exit status 0; the applet processes it started are terminated).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from pyqtgraph.Qt import QtCore, QtWidgets

from applets.feed import AppletFeed
from applets.signals import close_on_signals
from comms.backend import protocols

__all__ = ["AppletHost", "HostedApplet", "main", "parse_command"]

logger = logging.getLogger(__name__)

_PACKAGE = "applets."
_COLUMNS = 3


@dataclass
class HostedApplet:
    """One applet of the host: in the window (``feed``, ``widget``) or a process."""

    name: str
    command: str
    group: str | None
    feed: AppletFeed | None = None
    widget: Any = None
    process: subprocess.Popen | None = field(default=None, repr=False)


def parse_command(command: str) -> tuple[str, list[str]] | None:
    """``(module, argv)`` if ``command`` runs an applet of this package (``... -m applets.X
    ARGS``), else ``None``."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for i, word in enumerate(words[:-1]):
        if word == "-m" and words[i + 1].startswith(_PACKAGE):
            return words[i + 1], words[i + 2 :]
    return None


class AppletHost(QtWidgets.QMainWindow):
    """The window. ``server``/``ports``: the master to follow (for applets run as processes,
    and :meth:`connect`)."""

    def __init__(
        self,
        server: str = "::1",
        port_notify: int = 3250,
        port_control: int = 3251,
        port_broadcast: int = 1067,
        title: str = "ionlink applets",
    ):
        super().__init__()
        self.setWindowTitle(title)
        self.server = server
        self.port_notify = port_notify
        self.port_control = port_control
        self.port_broadcast = port_broadcast
        self.data: dict = {}
        self.applets: dict[str, HostedApplet] = {}
        self._grid = QtWidgets.QGridLayout()
        central = QtWidgets.QWidget()
        central.setLayout(self._grid)
        self.setCentralWidget(central)
        self.resize(1440, 700)
        self._clients: list[Any] = []

    # -- datasets -----------------------------------------------------------------------------
    def datasets_init(self, struct: dict) -> dict:
        """Target builder of the ``datasets`` subscription."""
        self.data = struct
        for applet in self.applets.values():
            if applet.feed is not None:
                applet.feed.data = struct
        return struct

    def datasets_mod(self, mod: dict) -> None:
        """Notify callback of the ``datasets`` subscription (the mod is already applied)."""
        for applet in list(self.applets.values()):
            if applet.feed is not None:
                applet.feed.on_mod(mod)

    # -- applets ------------------------------------------------------------------------------
    def create_applet(self, name: str, command: str, group: str | None = None) -> None:
        """Show applet ``name`` (replacing one of that name)."""
        old = self.applets.get(name)
        if old is not None and old.command == command:
            return
        self.disable_applet(name)
        applet = HostedApplet(name, command, group)
        parsed = parse_command(command)
        try:
            if parsed is None:
                applet.process = self._start_process(command)
            else:
                self._build_widget(applet, *parsed)
        except (ImportError, SystemExit, ValueError, OSError) as exc:
            logger.error("cannot start applet %r (%s): %s", name, command, exc)
            return
        self.applets[name] = applet
        self._relayout()

    def _build_widget(self, applet: HostedApplet, module: str, argv: list[str]) -> None:
        made = importlib.import_module(module).make_applet()
        args = made.argparser.parse_args(argv)
        datasets = {getattr(args, a.replace("-", "_")) for a in made.dataset_args} - {None}
        widget = made.main_widget_class(args, None)
        feed = AppletFeed(
            widget,
            datasets,
            getattr(args, "title", None),
            getattr(made, "dataset_prefixes", []),
            getattr(args, "update_delay", 0.0),
            lambda delay, fn: QtCore.QTimer.singleShot(int(1000 * delay), fn),
        )
        feed.data = self.data
        applet.feed, applet.widget = feed, widget
        feed.emit([{"action": "init", "struct": self.data}])

    def _start_process(self, command: str) -> subprocess.Popen:
        python = shlex.quote(sys.executable)
        substituted = (
            command.replace("${python}", python)
            .replace("${artiq_applet}", python + " -m artiq.applets.")
            .replace("${server}", self.server)
            .replace("${port_notify}", str(self.port_notify))
            .replace("${port_control}", str(self.port_control))
        )
        return subprocess.Popen(shlex.split(substituted))

    def disable_applet(self, name: str) -> None:
        """Close applet ``name`` (nothing if it is not shown)."""
        applet = self.applets.pop(name, None)
        if applet is None:
            return
        if applet.widget is not None:
            self._grid.removeWidget(applet.widget)
            applet.widget.setParent(None)
            applet.widget.deleteLater()
        if applet.process is not None and applet.process.poll() is None:
            applet.process.terminate()
        self._relayout()

    def disable_applet_group(self, group: str) -> None:
        """Close every applet of ``group``."""
        for name in [n for n, a in self.applets.items() if a.group == group]:
            self.disable_applet(name)

    def _relayout(self) -> None:
        shown = [a for a in self.applets.values() if a.widget is not None]
        for i, applet in enumerate(shown):
            box = applet.widget
            self._grid.addWidget(box, i // _COLUMNS, i % _COLUMNS)

    def ccb(self, message: dict) -> None:
        """One ``ccb`` call (``{"service", "args", "kwargs"}``)."""
        args, kwargs = list(message.get("args", ())), dict(message.get("kwargs", {}))
        service = message.get("service")
        try:
            if service == "create_applet":
                call = dict(zip(["name", "command", "group", "code"], args), **kwargs)
                if call.get("code"):
                    logger.warning("applet %r given as code is not supported", call["name"])
                    return
                self.create_applet(call["name"], call["command"], call.get("group"))
            elif service == "disable_applet":
                self.disable_applet(kwargs.get("name", args[0] if args else ""))
            elif service == "disable_applet_group":
                self.disable_applet_group(kwargs.get("group", args[0] if args else ""))
        except (KeyError, TypeError) as exc:
            logger.warning("malformed ccb call %s: %s", message, exc)

    def applets_table(self, table: dict) -> dict:
        """Target builder of the ``ccb_applets`` subscription: show each applet listed."""
        for name, spec in table.items():
            self.create_applet(name, spec["command"], spec.get("group"))
        return table

    def applets_mod(self, mod: dict) -> None:
        """Notify callback of ``ccb_applets``."""
        if mod["action"] == "setitem" and not mod["path"]:
            self.create_applet(mod["key"], mod["value"]["command"], mod["value"].get("group"))
        elif mod["action"] == "delitem" and not mod["path"]:
            self.disable_applet(mod["key"])

    # -- connection -----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Follow the master: datasets, then the applets it relays (each optional)."""
        proto = protocols()
        datasets = proto.sync_struct.Subscriber(
            "datasets", self.datasets_init, self.datasets_mod, disconnect_cb=self._lost
        )
        await datasets.connect(self.server, self.port_notify)
        self._clients.append(datasets)
        table = proto.sync_struct.Subscriber("ccb_applets", self.applets_table, self.applets_mod)
        await table.connect(self.server, self.port_notify)
        self._clients.append(table)
        try:
            receiver = proto.broadcast.Receiver("ccb", [self.ccb])
            await receiver.connect(self.server, self.port_broadcast)
            self._clients.append(receiver)
        except OSError as exc:
            logger.info("no ccb broadcast from the master (%s)", exc)

    def _lost(self) -> None:
        logger.warning("connection to the master lost")
        self.setWindowTitle(self.windowTitle() + " (disconnected)")

    async def close_connections(self) -> None:
        """Stop following the master; stop applet processes."""
        for client in self._clients:
            await client.close()
        self._clients.clear()
        for name in list(self.applets):
            self.disable_applet(name)


def _ionlink_applets(host: AppletHost) -> None:
    from drivers.live import APPLET_GROUP, APPLETS

    for name, command in APPLETS:
        host.create_applet(name, command, APPLET_GROUP)


def main(argv: list[str] | None = None) -> int:
    """``python -m applets.host``."""
    parser = argparse.ArgumentParser(prog="python -m applets.host", description=__doc__)
    parser.add_argument("--server", default="::1", help="master address (default: %(default)s)")
    parser.add_argument("--port-notify", type=int, default=3250)
    parser.add_argument("--port-control", type=int, default=3251)
    parser.add_argument("--port-broadcast", type=int, default=1067)
    parser.add_argument("--ionlink", action="store_true", help="show ionlink's applets at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:%(name)s:%(message)s")
    from qasync import QEventLoop

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    # from here a signal closes the window, also one that comes while it is being made
    restore = close_on_signals(lambda signum: closed.set(), app, loop)
    try:
        host = AppletHost(args.server, args.port_notify, args.port_control, args.port_broadcast)
        try:
            loop.run_until_complete(host.connect())
        except OSError as exc:
            sys.stderr.write("applets.host: error: cannot follow the master: {}\n".format(exc))
            return 2
        if args.ionlink:
            _ionlink_applets(host)
        host.show()
        app.lastWindowClosed.connect(closed.set)
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(host.close_connections())
    finally:
        restore()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
