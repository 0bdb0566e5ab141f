# SPDX-License-Identifier: LGPL-3.0-or-later
"""RTIO exceptions as marks on the timeline, for the waveform file (m-labs/artiq#273).

Every RTIO error the engine meets — an underflow (synchronous, caught by the kernel or not), a
sequence error, a collision, a busy error (asynchronous, logged to the core log), an input
overflow, a destination whose DRTIO link is down — becomes an :class:`ExceptionMark` in the
engine's :class:`~sim.rtio.recorder.WaveRecorder`, which exists only while a VCD is requested
(:meth:`sim.rtio.summary.Diagnostics.note_exception` does nothing otherwise). The VCD shows each
kind on its own signals under ``rtio.exceptions``: ``<kind>`` (an event per exception) and
``<kind>_channel`` (integer: the RTIO channel involved, set at the same time).

When each mark is placed (VCD time = RTIO timestamp in mu):

============================  ===================================================================
underflow                     the late event's timestamp (the counter had passed it)
sequence_error                the dropped event's timestamp
collision                     the coarse cycle (× 8 mu) of the colliding events
busy                          the RTIO counter when the PHY refused the event
overflow                      the arrival time of each input event dropped from a full FIFO
destination_unreachable       the event's timestamp (output) or the read's counter (input); made
                              by the DRTIO model through ``note_exception``
============================  ===================================================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["RTIOException", "ExceptionMark", "ExceptionTrace", "exception_traces"]


class RTIOException(enum.StrEnum):
    """Kinds of RTIO exception marked in the waveform (value: the VCD signal's name)."""

    UNDERFLOW = "underflow"
    SEQUENCE_ERROR = "sequence_error"
    COLLISION = "collision"
    BUSY = "busy"
    OVERFLOW = "overflow"
    DESTINATION_UNREACHABLE = "destination_unreachable"


@dataclass(frozen=True, slots=True)
class ExceptionMark:
    """One RTIO exception: its kind, where on the timeline (mu) and the RTIO channel involved."""

    kind: RTIOException
    t_mu: int
    channel: int


@dataclass(frozen=True)
class ExceptionTrace:
    """One waveform signal of the exceptions: ``name`` under ``rtio.exceptions``, VCD ``kind``
    (``event`` or ``integer``) and ``size``, ``changes`` ``(t_mu, value)`` in time order, and the
    value before the first (``"x"``: unknown)."""

    name: str
    kind: str
    size: int
    changes: list[tuple[int, Any]]
    init: Any = 0


def exception_traces(marks: Iterable[ExceptionMark]) -> list[ExceptionTrace]:
    """For every kind, ``<kind>`` (an event per mark) and ``<kind>_channel`` (the channel)."""
    by_kind: dict[RTIOException, list[ExceptionMark]] = {kind: [] for kind in RTIOException}
    for m in marks:
        by_kind[m.kind].append(m)
    out = []
    for kind, ms in by_kind.items():
        ms.sort(key=lambda m: m.t_mu)
        out.append(ExceptionTrace(kind.value, "event", 1, [(m.t_mu, True) for m in ms]))
        out.append(
            ExceptionTrace(
                kind.value + "_channel", "integer", 32, [(m.t_mu, m.channel) for m in ms], "x"
            )
        )
    return out
