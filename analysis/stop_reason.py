# SPDX-License-Identifier: LGPL-3.0-or-later
"""Why a run ended (``totals.stop_reason``, written by the experiments through
``drivers.run_end``) and the note a report makes of a run that stopped before it had taken all it
was asked for: ``<file>: stopped early (<reason>) after <what it took>``."""

from __future__ import annotations

from .io import Run

__all__ = [
    "COUNTED_TO_LAST_HERALD",
    "STOP_REASON",
    "STOPPED_AT_ONCE",
    "early_note",
    "stop_reason",
    "stopped_early_note",
]

#: the dataset (drivers.run_end.STOP_REASON: analysis does not import the drivers)
STOP_REASON = "totals.stop_reason"
#: the simulator's mark of a run stopped at once by a second termination signal (the signal's
#: name; written by ``sim.run``, whose ``STOPPED_AT_ONCE`` it is: analysis does not import sim)
STOPPED_AT_ONCE = "ionlink.sim.stopped_at_once"
#: set by the link experiments and the remote gate when a kernel ended without its totals (an
#: exception, a run stopped at once): its attempts and lab time are counted up to its last
#: recorded herald (the remote gate: shot)
COUNTED_TO_LAST_HERALD = "totals.counted_to_last_herald"


def stop_reason(run: Run) -> str | None:
    """The run's ``totals.stop_reason`` (None: the file does not say)."""
    reason = run.values.get(STOP_REASON)
    return None if reason is None else str(reason)


def stopped_early_note(run: Run, taken: str, last: str = "herald") -> str | None:
    """A note for a run that ended before all it was asked for, ``taken`` saying what it took
    (e.g. ``"25 of 288 shots"``), and whether its totals were counted to its ``last`` record
    (:data:`COUNTED_TO_LAST_HERALD`); None when it completed or the file does not say."""
    counted = bool(run.values.get(COUNTED_TO_LAST_HERALD, False))
    return early_note(
        run.path.name, stop_reason(run), run.values.get(STOPPED_AT_ONCE), taken, counted, last
    )


def early_note(
    name: str,
    reason: str | None,
    at_once: object,
    taken: str,
    counted: bool = False,
    last: str = "herald",
) -> str | None:
    """The note of :func:`stopped_early_note` from the file's name, its stop reason, its
    :data:`STOPPED_AT_ONCE` mark (a run the simulator stopped at once is named so: its stop
    reason is the placeholder ``exception``) and whether its totals were counted to its last
    record (:data:`COUNTED_TO_LAST_HERALD`; ``last``: what a record is, herald or shot)."""
    if at_once is not None:
        reason = f"stopped at once by a second {at_once}" + (
            "" if counted else ": its totals are not recorded"
        )
    if reason is None or reason == "complete":
        return None
    counted_note = (
        f"; its attempts and lab time are counted to its last {last} (the kernel ended before "
        "sending its totals)"
        if counted
        else ""
    )
    return f"{name}: stopped early ({reason}) after {taken}{counted_note}"
