# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``ionlink-analyze`` console entry (and ``python -m analysis``): the command line's modules
(numpy, h5py; ≈ 0.3 s) are imported, and its parser built, inside it, so that a Ctrl-C then is
one line and exit 130, as it is while a command runs (:func:`analysis.cli.main`), not a
traceback."""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from typing import Any

__all__ = ["main"]

#: how long after a Ctrl-C lost in a callback it is delivered again (s)
REDELIVERY_S = 0.01


def _deliver_again(unraisable: Any) -> None:
    """A Ctrl-C that lands in a weak reference's callback or a finaliser (h5py drops its object
    ids through one) cannot be raised there: Python prints it as "ignored" and the command runs
    on. It is delivered to the main thread again instead, :data:`REDELIVERY_S` later from
    another thread, once the main thread has left the callback (one that lands in a callback
    again is delivered again)."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        timer = threading.Timer(REDELIVERY_S, _interrupt_main_thread)
        timer.daemon = True
        try:
            timer.start()
        except RuntimeError:  # (the interpreter is shutting down: nothing runs on)
            pass
        return
    sys.__unraisablehook__(unraisable)


def _interrupt_main_thread() -> None:
    """SIGINT to the main thread (a signal, so that a blocking call there returns to raise it)."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    else:  # (Windows: the interpreter's own interrupt, raised at the next instruction)
        _thread.interrupt_main()


def main() -> int:
    """Run the command line; its exit status (130: interrupted while it loaded or built its
    parser; a command catches its own interruption)."""
    hook, sys.unraisablehook = sys.unraisablehook, _deliver_again
    try:
        from analysis.cli import main as run

        return run()
    except KeyboardInterrupt:
        sys.stderr.write("ionlink-analyze: interrupted\n")
        return 130
    finally:
        sys.unraisablehook = hook
