# SPDX-License-Identifier: LGPL-3.0-or-later
"""ionlink's own ``SimpleApplet``/``TitleApplet`` for machines without ARTIQ: the same
constructor, ``add_dataset``, options (``--server``, ``--port-notify``, ``--port-control``,
``--update-delay``, ``--title``) and widget interface as ARTIQ's, standalone mode only (ARTIQ's
dashboard embeds applets itself, and then ARTIQ's own class is used: :mod:`applets.simple`).

The widget is built as ``widget_class(args, req)``; ``req`` offers ``set_dataset``,
``mutate_dataset`` and ``append_to_dataset`` through the master's ``dataset_db`` RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import sys
from typing import Any

from applets.feed import AppletFeed

__all__ = ["MASTER_LOST", "NO_MASTER", "SimpleApplet", "TitleApplet", "DatasetRequests"]

logger = logging.getLogger(__name__)

#: exit status of a standalone applet that cannot connect to the master
NO_MASTER = 2
#: exit status of a standalone applet whose master went away
MASTER_LOST = 3


class DatasetRequests:
    """The ``req`` object of a standalone applet: writes datasets through ``dataset_db`` (an
    AsyncioClient), each call in a background task."""

    def __init__(self, loop: asyncio.AbstractEventLoop, dataset_ctl: Any):
        self.loop = loop
        self.dataset_ctl = dataset_ctl
        self._tasks: set[asyncio.Task] = set()

    def _background(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_dataset(
        self,
        key: str,
        value: Any,
        unit: str | None = None,
        scale: float | None = None,
        precision: int | None = None,
        persist: bool | None = None,
    ) -> None:
        """Set a dataset on the master (metadata from ``unit``/``scale``/``precision``)."""
        metadata = {
            k: v
            for k, v in (("unit", unit), ("scale", scale), ("precision", precision))
            if v is not None
        }
        self._background(self.dataset_ctl.set(key, value, metadata=metadata, persist=persist))

    def mutate_dataset(self, key: str, index: Any, value: Any) -> None:
        """``dataset[index] = value`` on the master."""
        mod = {"action": "setitem", "path": [key, 1], "key": index, "value": value}
        self._background(self.dataset_ctl.update(mod))

    def append_to_dataset(self, key: str, value: Any) -> None:
        """Append to a list dataset on the master."""
        mod = {"action": "append", "path": [key, 1], "x": value}
        self._background(self.dataset_ctl.update(mod))

    def set_argument_value(self, expurl: str, key: str, value: Any) -> None:
        """Needs ARTIQ's dashboard: not available standalone."""
        raise NotImplementedError("set_argument_value needs ARTIQ's dashboard")


class SimpleApplet:
    """An applet: a widget class and the datasets it follows (ARTIQ's API)."""

    def __init__(
        self,
        main_widget_class: type,
        cmd_description: str | None = None,
        default_update_delay: float = 0.0,
    ):
        self.main_widget_class = main_widget_class
        self.argparser = argparse.ArgumentParser(description=cmd_description)
        self.argparser.add_argument(
            "--update-delay",
            type=float,
            default=default_update_delay,
            help="seconds to wait after a mod, collecting others, before drawing "
            "(default: %(default).2f)",
        )
        group = self.argparser.add_argument_group("standalone mode (default)")
        group.add_argument("--server", default="::1", help="address of the master")
        group.add_argument("--port-notify", default=3250, type=int, help="notify port")
        group.add_argument("--port-control", default=3251, type=int, help="control port")
        self._datasets_group = self.argparser.add_argument_group("datasets")
        self.dataset_args: set[str] = set()
        self.dataset_prefixes: list[str] = []
        self.args: argparse.Namespace | None = None

    def add_dataset(self, name: str, help: str | None = None, required: bool = True) -> None:
        """A dataset argument: positional if ``required``, else ``--name``."""
        flag = name if required else "--" + name
        self._datasets_group.add_argument(flag, help=help)
        self.dataset_args.add(name)

    def datasets_of(self, args: argparse.Namespace) -> set[str]:
        """The dataset names given by the parsed arguments."""
        names = {getattr(args, a.replace("-", "_")) for a in self.dataset_args}
        return {n for n in names if n is not None}

    def title_of(self, args: argparse.Namespace) -> str | None:
        """The ``--title`` format string (none for a :class:`SimpleApplet`)."""
        return None

    def run(self, argv: list[str] | None = None) -> None:
        """Parse the command line, connect to the master and show the widget until it is closed
        (Ctrl-C and SIGTERM close it: exit status 0). No master to connect to: one line, exit
        status :data:`NO_MASTER`; the master going away: one line, the widget closed, exit status
        :data:`MASTER_LOST`."""
        if os.getenv("ARTIQ_APPLET_EMBED"):
            sys.exit("embedded applets need ARTIQ's dashboard (and ARTIQ's applet classes)")
        from pyqtgraph.Qt import QtWidgets
        from qasync import QEventLoop

        args = self.args = self.argparser.parse_args(argv)
        app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
        loop = QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            status = self._run(args, app, loop)
        finally:
            loop.close()
        if status:
            sys.exit(status)

    def _run(self, args: argparse.Namespace, app: Any, loop: asyncio.AbstractEventLoop) -> int:
        from applets.signals import close_on_signals
        from comms.backend import protocols

        proto = protocols()
        refused = (OSError, EOFError, proto.pc_rpc.IncompatibleServer)
        dataset_ctl = proto.pc_rpc.AsyncioClient()
        # from here a signal closes the window, also one that comes while it is being made
        windows: list[Any] = []
        stopped: list[int] = []

        def close(signum: int) -> None:
            stopped.append(signum)
            for window in windows:
                window.close()

        restore = close_on_signals(close, app, loop)
        try:
            return self._follow(args, loop, proto, refused, dataset_ctl, windows, stopped)
        finally:
            restore()

    def _follow(
        self,
        args: argparse.Namespace,
        loop: asyncio.AbstractEventLoop,
        proto: Any,
        refused: tuple,
        dataset_ctl: Any,
        windows: list[Any],
        stopped: list[int],
    ) -> int:
        """Connect, make the widget and follow the datasets until the window closes; ``windows``:
        the window once shown (a closing signal closes it), ``stopped``: the closing signals
        received (one before the window is shown: it is not shown)."""
        try:
            loop.run_until_complete(
                dataset_ctl.connect_rpc(args.server, args.port_control, "dataset_db")
            )
        except refused as exc:
            self._error("cannot connect to", args.server, args.port_control, exc)
            return NO_MASTER
        try:
            widget = self.main_widget_class(args, DatasetRequests(loop, dataset_ctl))
            feed = AppletFeed(
                widget,
                self.datasets_of(args),
                self.title_of(args),
                self.dataset_prefixes,
                args.update_delay,
                loop.call_later,
            )
            lost: list[bool] = []

            def master_lost() -> None:
                self._error("lost", args.server, args.port_notify, "disconnected")
                lost.append(True)
                widget.close()

            sub = proto.sync_struct.Subscriber(
                "datasets", feed.init, feed.on_mod, disconnect_cb=master_lost
            )
            try:
                loop.run_until_complete(sub.connect(args.server, args.port_notify))
            except OSError as exc:
                self._error("cannot connect to", args.server, args.port_notify, exc)
                return NO_MASTER
            try:
                loop.run_until_complete(asyncio.sleep(0))  # (a signal's close, if one came)
                if not stopped:
                    windows.append(widget)  # (a signal from now on closes it)
                    widget.show()
                    loop.run_forever()
            finally:
                loop.run_until_complete(sub.close())
            return MASTER_LOST if lost else 0
        finally:
            closing = dataset_ctl.close_rpc()
            if inspect.isawaitable(closing):  # ionlink's client; sipyco's closes at once
                loop.run_until_complete(closing)

    def _error(self, what: str, server: str, port: int, exc: Exception | str) -> None:
        """One line on stderr: ``what`` the master at ``[server]:port``, and why."""
        if isinstance(exc, OSError) and exc.errno:
            reason = os.strerror(exc.errno)
        else:
            reason = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(
            "{}: error: {} the master at [{}]:{}: {}\n".format(
                self.argparser.prog, what, server, port, reason
            )
        )


class TitleApplet(SimpleApplet):
    """A :class:`SimpleApplet` with ``--title`` (a format string of dataset values)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.argparser.add_argument(
            "--title",
            default=None,
            help="title; a Python format string whose fields are dataset names with '/' for '.'",
        )

    def title_of(self, args: argparse.Namespace) -> str | None:
        """The ``--title`` format string."""
        return args.title
