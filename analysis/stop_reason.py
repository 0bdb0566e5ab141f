# SPDX-License-Identifier: LGPL-3.0-or-later
"""Why a run ended (``totals.stop_reason``, written by the experiments through
``drivers.run_end``) and the note a report makes of a run that stopped before it had taken all it
was asked for: ``<file>: stopped early (<reason>) after <what it took>``."""

from __future__ import annotations

from .io import Run

__all__ = ["STOP_REASON", "STOPPED_AT_ONCE", "early_note", "stop_reason", "stopped_early_note"]

#: the dataset (drivers.run_end.STOP_REASON: analysis does not import the drivers)
STOP_REASON = "totals.stop_reason"
#: the simulator's mark of a run stopped at once by a second termination signal (the signal's
#: name; written by ``sim.run``, whose ``STOPPED_AT_ONCE`` it is: analysis does not import sim)
STOPPED_AT_ONCE = "ionlink.sim.stopped_at_once"


def stop_reason(run: Run) -> str | None:
    """The run's ``totals.stop_reason`` (None: the file does not say)."""
    reason = run.values.get(STOP_REASON)
    return None if reason is None else str(reason)


def stopped_early_note(run: Run, taken: str) -> str | None:
    """A note for a run that ended before all it was asked for, ``taken`` saying what it took
    (e.g. ``"25 of 288 shots"``); None when it completed or the file does not say."""
    return early_note(run.path.name, stop_reason(run), run.values.get(STOPPED_AT_ONCE), taken)


def early_note(name: str, reason: str | None, at_once: object, taken: str) -> str | None:
    """The note of :func:`stopped_early_note` from the file's name, its stop reason and its
    :data:`STOPPED_AT_ONCE` mark (a run the simulator stopped at once is named so: its stop
    reason is the placeholder ``exception``)."""
    if at_once is not None:
        reason = f"stopped at once by a second {at_once}: its totals are not recorded"
    if reason is None or reason == "complete":
        return None
    return f"{name}: stopped early ({reason}) after {taken}"
