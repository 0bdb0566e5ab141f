# SPDX-License-Identifier: LGPL-3.0-or-later
"""Ctrl-C and SIGTERM for a Qt window run by qasync: they act as closing the window.

While Qt waits for events in C++ the interpreter does not run, so Python's signal handlers
(and its default ``KeyboardInterrupt``) wait for the next event, which may never come: an applet
whose datasets do not change ignored Ctrl-C. A timer wakes the interpreter every 200 ms.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CLOSING_SIGNALS", "close_on_signals"]

#: the signals that close the window
CLOSING_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_WAKE_MS = 200


def close_on_signals(
    close: Callable[[int], Any],
    app: Any,
    loop: asyncio.AbstractEventLoop,
    signals: Sequence[int] = CLOSING_SIGNALS,
) -> Callable[[], None]:
    """Until the returned function is called, each of ``signals`` (default SIGINT and SIGTERM)
    calls ``close(signum)`` in ``loop`` (``app``: the QApplication, parent of the timer). The
    returned function puts the previous handlers back and stops the timer."""
    from pyqtgraph.Qt import QtCore

    def handler(signum: int, frame: Any) -> None:
        loop.call_soon_threadsafe(close, signum)

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    timer = QtCore.QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(_WAKE_MS)

    def restore() -> None:
        timer.stop()
        timer.deleteLater()
        for signum, old in previous.items():
            if old is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(signum, old)

    return restore
