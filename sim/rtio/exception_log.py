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
from dataclasses import dataclass

__all__ = ["RTIOException", "ExceptionMark"]


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
