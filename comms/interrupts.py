# SPDX-License-Identifier: LGPL-3.0-or-later
"""Interrupts that Python would lose: a ``KeyboardInterrupt`` raised by a signal handler while
the interpreter runs a finaliser or a weak reference's callback (h5py drops its object ids
through such callbacks, matplotlib its transforms) cannot leave it; Python prints "Exception
ignored in ..." and the program runs on as if the signal never came.

:func:`keeping_interrupts` makes the process's unraisable hook deliver such an interrupt again:
the same signal is sent to the main thread :data:`REDELIVERY_S` later from a timer thread (sent
at once, its handler would run inside the hook, where it is lost again; a signal, not a flag, so
that a blocking call in the main thread returns to raise it). One that lands in a callback again
is delivered again. The command lines of ``ionlink-sim`` and ``ionlink-analyze`` use it.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["REDELIVERY_S", "keeping_interrupts"]

#: how long after an interrupt lost in a callback it is delivered again (s)
REDELIVERY_S = 0.01


def _send_to_main_thread(signum: int) -> None:
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signum)
    else:  # (Windows: the interpreter's own interrupt, raised at its next instruction)
        _thread.interrupt_main(signal.Signals(signum))


@contextlib.contextmanager
def keeping_interrupts() -> Iterator[None]:
    """While the block runs, a ``KeyboardInterrupt`` lost in a callback is delivered again (its
    ``signum`` attribute's signal, else SIGINT); other unraisable exceptions go to the hook that
    was there before, which is put back afterwards."""
    previous = sys.unraisablehook

    def hook(info: Any) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):
            previous(info)
            return
        signum = int(getattr(info.exc_value, "signum", signal.SIGINT))
        timer = threading.Timer(REDELIVERY_S, _send_to_main_thread, (signum,))
        timer.daemon = True
        with contextlib.suppress(RuntimeError):  # (the interpreter is shutting down)
            timer.start()

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
