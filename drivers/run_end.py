# SPDX-License-Identifier: LGPL-3.0-or-later
"""Why a run ended: the dataset ``totals.stop_reason`` (docs/datasets.md).

Every experiment that can be stopped before it has taken all it was asked for (the link
experiments, the calibrations, polarisation compensation) runs its host loop inside
:func:`recording_stop_reason`, which keeps the reason in ``exp.stop_reason``: ``exception`` until
the loop says otherwise, the loop sets ``complete`` (or its own reason) when it ends, a
termination request (``TerminationRequested`` from ``scheduler.pause()``) gives ``terminated``.
The experiment writes it with its other results (:data:`STOP_REASON`), in a ``finally`` after
the loop.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = [
    "COMPLETE",
    "EXCEPTION",
    "STOP_REASON",
    "TERMINATED",
    "recording_stop_reason",
    "run_until_complete",
]

#: the dataset that holds the reason
STOP_REASON = "totals.stop_reason"
#: the run took all it was asked for
COMPLETE = "complete"
#: a termination request ended the run
TERMINATED = "terminated"
#: an error ended the run (the run ends with it)
EXCEPTION = "exception"


@contextmanager
def recording_stop_reason(exp, *, end_on_termination: bool) -> Iterator[None]:
    """Keep why the enclosed loop ended in ``exp.stop_reason`` (host only).

    ``exception`` while the block runs (the block sets ``complete`` or its own reason when it
    ends); ``terminated`` when it raises ``TerminationRequested``.

    :param end_on_termination: True: the request ends the block and ``run`` goes on (the link
        experiments, which write the heralds taken); False: it is raised again, so that
        ``analyze`` does not run (a calibration stores nothing persistent from a run cut short)
    """
    from artiq.language.core import TerminationRequested

    exp.stop_reason = EXCEPTION
    try:
        yield
    except TerminationRequested:
        exp.stop_reason = TERMINATED
        if not end_on_termination:
            raise


def run_until_complete(exp, kernel_fn: Callable[[], bool], write: Callable[[], None]) -> None:
    """The host loop of a resumable experiment (the calibrations): ``kernel_fn`` until it returns
    True (False: it returned on a pause request with work left), yielding to the scheduler
    between; a termination request ends the run with ``TerminationRequested`` (``analyze`` does
    not run). ``write`` stores what was taken, also when the run is cut short, with
    ``exp.stop_reason`` final (it writes :data:`STOP_REASON` among its datasets)."""
    try:
        with recording_stop_reason(exp, end_on_termination=False):
            while not kernel_fn():
                exp.scheduler.pause()  # raises TerminationRequested on termination
            exp.stop_reason = COMPLETE
    finally:
        write()
