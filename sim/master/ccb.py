# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``ccb`` device of experiments run by the simulated master, and the applets it asks for.

As ARTIQ's master does, each ``ccb.issue(service, *args, **kwargs)`` is broadcast on the
``ccb`` channel (a dashboard connected to the broadcast port creates the applet). The master also
keeps the applets asked for in the ``ccb_applets`` notifier (``{name: {"command", "group"}}``,
ionlink's), so that its own applet host, started on the first ``create_applet``, shows those
asked for before it connected. Services: ``create_applet(name, command, group=None, code=None)``,
``disable_applet(name, group=None)``, ``disable_applet_group(group)``; others are only broadcast.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

__all__ = ["MasterCCB", "apply_ccb"]

logger = logging.getLogger(__name__)


def apply_ccb(applets: Any, message: dict) -> str | None:
    """Apply one ccb message to the applet table ``applets`` (a dict or a Notifier of one);
    returns the name of the applet it created, if it created one."""
    service, args, kwargs = message["service"], list(message["args"]), dict(message["kwargs"])
    view = getattr(applets, "raw_view", applets)
    if service == "create_applet":
        names = ["name", "command", "group", "code"]
        call = dict(zip(names, args), **kwargs)
        applets[call["name"]] = {"command": call.get("command", ""), "group": call.get("group")}
        return str(call["name"])
    if service == "disable_applet":
        name = kwargs.get("name", args[0] if args else None)
        if name in view:
            del applets[name]
    elif service == "disable_applet_group":
        group = kwargs.get("group", args[0] if args else None)
        for name in [n for n, a in view.items() if a.get("group") == group]:
            del applets[name]
    return None


class MasterCCB:
    """The ``ccb`` virtual device: ``issue`` hands the message to ``post`` (thread-safe, towards
    the master's event loop) and keeps it in :attr:`issued`."""

    def __init__(self, post: Callable[[dict], None]):
        self._post = post
        self.issued: list[dict] = []

    def issue(self, service: str, *args: Any, **kwargs: Any) -> None:
        """Broadcast a client control request (``create_applet``...)."""
        message = {"service": service, "args": args, "kwargs": kwargs}
        self.issued.append(message)
        logger.info("CCB for service '%s' (args %s, kwargs %s)", service, args, kwargs)
        self._post(message)
