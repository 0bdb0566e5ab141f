# SPDX-License-Identifier: LGPL-3.0-or-later
"""Starting ionlink's applet host (:mod:`applets.host`) for the simulated master when an
experiment first asks for an applet: one window, as a process of its own, following the master.
Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux and no ``QT_QPA_PLATFORM``) it
says so once and starts nothing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

__all__ = ["AppletLauncher", "has_display"]

logger = logging.getLogger(__name__)


def has_display() -> bool:
    """True where a Qt window can be shown."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class AppletLauncher:
    """Starts (once, again if it was closed) the host window for a master at ``server``."""

    def __init__(self, server: str, port_notify: int, port_control: int, port_broadcast: int):
        self.command = [
            sys.executable,
            "-m",
            "applets.host",
            "--server",
            server,
            "--port-notify",
            str(port_notify),
            "--port-control",
            str(port_control),
            "--port-broadcast",
            str(port_broadcast),
        ]
        self.process: subprocess.Popen | None = None
        self._warned = False

    def ensure_running(self, applet_name: str = "") -> None:
        """Start the host unless it runs (it shows every applet asked for so far)."""
        if self.process is not None and self.process.poll() is None:
            return
        if not has_display():
            if not self._warned:
                logger.warning(
                    "no display: the applets the experiments ask for (%s) are not shown; "
                    "run `python -m applets.host` where there is one, or ARTIQ's dashboard",
                    applet_name,
                )
                self._warned = True
            return
        logger.info("starting the applet host: %s", " ".join(self.command))
        self.process = subprocess.Popen(self.command)

    def stop(self) -> None:
        """Close the host window."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
