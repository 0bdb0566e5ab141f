# SPDX-License-Identifier: LGPL-3.0-or-later
"""Termination signals (Ctrl-C, ``kill``, a closing terminal) and the exit status they give.

While an experiment runs, the first SIGINT, SIGTERM or SIGHUP requests termination the way the
dashboard does (:func:`signals_request_termination`): the scheduler's ``check_pause()`` turns
true, the experiment leaves its kernel at its next check, ``pause()`` raises
``TerminationRequested`` and the results file is written with everything recorded so far. A
second signal raises :class:`SignalInterrupt` (a ``KeyboardInterrupt``) at once; files already
written stay intact (they are written under a temporary name and renamed). Outside a run
(:func:`signals_interrupt`), SIGTERM and SIGHUP raise :class:`SignalInterrupt` like Ctrl-C does,
so that clean-up code runs instead of the process dying. A run in another thread (the simulated
master's worker) is stopped at once by :func:`interrupt_thread`, the same interrupt raised there
(not while it saves its results: then it has ended, and the save goes on).

Exit status of a run ended by a signal: 128 + the signal's number (the shell convention:
130 SIGINT, 143 SIGTERM, 129 SIGHUP); a termination requested otherwise gives 130.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from comms.interrupts import keeping_interrupts

__all__ = [
    "TERMINATION_SIGNALS",
    "signals_held",
    "LateSignals",
    "EXIT_TERMINATED",
    "SignalInterrupt",
    "TerminationSignal",
    "exit_status",
    "signals_request_termination",
    "requested_line",
    "signals_interrupt",
    "interrupt_thread",
    "ThreadInterrupt",
]

#: Exit status of a run terminated without a signal (a scheduler request), as for Ctrl-C.
EXIT_TERMINATED = 130

#: Signals that request termination (SIGHUP does not exist on Windows).
TERMINATION_SIGNALS: tuple[int, ...] = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)


class SignalInterrupt(KeyboardInterrupt):
    """A termination signal that stops the process at once (``signum``: the signal's number)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(signum: int | None) -> int:
    """Exit status of a run terminated by ``signum`` (``None``: by a request, 130)."""
    return EXIT_TERMINATED if signum is None else 128 + int(signum)


@dataclass
class TerminationSignal:
    """The first termination signal received during a run (``signum`` ``None``: none yet)."""

    signum: int | None = None


@contextlib.contextmanager
def _handlers(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """``handler`` for the termination signals while the block runs. A :class:`SignalInterrupt`
    it raised while Python ran a finaliser or a weak reference's callback (which report an
    exception and drop it: found by a walkthrough, Ctrl-C during the demo's budget printed
    "Exception ignored in ... SignalInterrupt" and the process went on to exit 0) is not lost:
    the signal is sent again (:func:`comms.interrupts.keeping_interrupts`), and its handler runs
    in the code that follows then."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in TERMINATION_SIGNALS}
    try:
        with keeping_interrupts():
            yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def requested_line(signum: int, prog: str = "ionlink-sim") -> str:
    """What a first termination signal during a run says."""
    return (
        "{}: {}: termination requested, the results will be written at the next safe point "
        "({} again to stop at once)".format(
            prog,
            signal.Signals(signum).name,
            "Ctrl-C" if signum == signal.SIGINT else "the signal",
        )
    )


@contextlib.contextmanager
def signals_request_termination(
    request: Callable[[], None], prog: str = "ionlink-sim"
) -> Iterator[TerminationSignal]:
    """While the block runs, the first termination signal calls ``request()`` (and is recorded
    in the yielded :class:`TerminationSignal`); the next one raises :class:`SignalInterrupt`.
    Only in the main thread (elsewhere signals are left alone)."""
    received = TerminationSignal()

    def handler(signum: int, frame: Any) -> None:
        if received.signum is not None:
            received.signum = signum
            _interrupt(signum, prog)
            return
        received.signum = signum
        request()
        print(requested_line(signum, prog), file=sys.stderr)

    with _handlers(handler):
        yield received


class _Hold:
    """Signals held while results are saved (:func:`signals_held`): the nesting depth and the
    signal that waited."""

    depth = 0
    pending: int | None = None


_HOLD = _Hold()


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """While the block runs (saving a results file, the dataset store, the hardware state), a
    termination signal that would stop the process at once waits: it is raised as
    :class:`SignalInterrupt` when the block ends, so that a second Ctrl-C cannot stop the save
    half-way and lose the data. (A flag the handlers read, not a signal mask: a process-directed
    signal may be delivered to any thread.)"""
    _HOLD.depth += 1
    try:
        yield
    finally:
        _HOLD.depth -= 1
        if _HOLD.depth == 0 and _HOLD.pending is not None:
            signum, _HOLD.pending = _HOLD.pending, None
            raise SignalInterrupt(signum)


class LateSignals:
    """From :meth:`hold` to the end of the ``with`` block, termination signals wait as in
    :func:`signals_held`, and one that waited is kept in :attr:`received` instead of raised: for
    the close of a simulation whose run has ended, which then finishes writing everything (a
    signal the experiment never saw must not cut its files nor make a complete run look
    stopped)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._held = False

    def __enter__(self) -> LateSignals:
        return self

    def hold(self) -> None:
        """Hold the signals from now on."""
        if not self._held:
            self._held = True
            _HOLD.depth += 1

    def __exit__(self, *exc: Any) -> None:
        if self._held:
            self._held = False
            _HOLD.depth -= 1
            if _HOLD.depth == 0 and _HOLD.pending is not None:
                self.received, _HOLD.pending = _HOLD.pending, None


def _interrupt(signum: int, prog: str) -> None:
    """Raise :class:`SignalInterrupt`, or let it wait while results are saved."""
    if _HOLD.depth:
        if _HOLD.pending is None:
            print("{}: saving the results first".format(prog), file=sys.stderr)
        _HOLD.pending = signum
        return
    raise SignalInterrupt(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the block runs, every termination signal raises :class:`SignalInterrupt`."""

    def handler(signum: int, frame: Any) -> None:
        _interrupt(signum, "ionlink-sim")

    with _handlers(handler):
        yield


class ThreadInterrupt(enum.Enum):
    """What :func:`interrupt_thread` did to a run in another thread."""

    #: the interrupt is raised there at its next Python instruction: the run stops at once
    RAISED = "raised"
    #: nothing: the thread is saving results (:func:`signals_held`), so its run has ended and
    #: what is left is the save, which goes on to its end
    SAVING = "saving"
    #: nothing: the thread no longer runs
    GONE = "gone"


def interrupt_thread(thread: threading.Thread, signum: int) -> ThreadInterrupt:
    """What a second signal does to a run in the main thread, for a run in ``thread``: raise
    :class:`SignalInterrupt` there at its next Python instruction (a blocking call such as a
    ``sleep`` ends first). While results are saved (:func:`signals_held`) nothing is raised: the
    run has ended by then (the save is its last step), and the save must not be cut; the caller
    says so and decides the exit status, as ``run`` does for a signal that waited for its save."""
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return ThreadInterrupt.GONE
    if _HOLD.depth:
        return ThreadInterrupt.SAVING
    raised = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(_interrupt_class(signum))
    )
    return ThreadInterrupt.RAISED if raised else ThreadInterrupt.GONE


def _interrupt_class(signum: int) -> type[SignalInterrupt]:
    """A :class:`SignalInterrupt` of ``signum`` made without arguments (Python raises an exception
    in another thread from its class only)."""

    class ThreadSignalInterrupt(SignalInterrupt):
        def __init__(self) -> None:
            super().__init__(signum)

    return ThreadSignalInterrupt
