# SPDX-License-Identifier: LGPL-3.0-or-later
"""The master's log as ARTIQ's master serves it: every log record of the master and of the running
experiment, sent to the receivers of the broadcast channel ``log`` (port 1067), where ARTIQ's
dashboard log dock and ``artiq_client show log`` read it.

Each message is one tuple ``(level, source, timestamp, text)``: the record's numeric level, where
it comes from (``"master"``; ``"worker(RID,file name)"`` for the experiment running in the worker
thread; a controller's own name for the records it sent to the logging port), ``time.time()`` of
the record, and ``"logger name:message"`` (with the traceback, if any, after a newline; the
dashboard shows a multi-line text as one entry whose first line is the row and whose other lines
are its children).

The master's own records are sent from ``master_level`` up (ARTIQ's default: WARNING), the
experiment's from the run's ``log_level`` (its expid's), records sent by controllers all (they
filtered them themselves): :class:`SourceLevels`, which the master's console handler can share.
While a run asks for a level below the root logger's, the root logger is lowered to it
(:meth:`RunSources.running`), so that the experiment's records are made at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

__all__ = [
    "LOG_CHANNEL",
    "MASTER_SOURCE",
    "LogMessage",
    "LogForwarder",
    "RunSources",
    "SourceLevels",
    "worker_source",
]

#: The broadcast channel of the log.
LOG_CHANNEL = "log"
#: Source of the master's own records.
MASTER_SOURCE = "master"


@dataclass(frozen=True)
class LogMessage:
    """One log record as the ``log`` channel carries it."""

    level: int
    source: str
    timestamp: float  # time.time() when the record was made, s
    text: str  # "logger name:message"; a traceback follows after a newline

    def to_wire(self) -> tuple[int, str, float, str]:
        """The tuple sent (ARTIQ's shape)."""
        return (self.level, self.source, self.timestamp, self.text)

    @classmethod
    def from_wire(cls, obj: tuple | list) -> "LogMessage":
        """A received message.

        :raises ValueError: ``obj`` is not a 4-item sequence."""
        if len(obj) != 4:
            raise ValueError("a log message has 4 items, not {}".format(len(obj)))
        level, source, timestamp, text = obj
        return cls(int(level), str(source), float(timestamp), str(text))


def worker_source(rid: int, file: str | os.PathLike) -> str:
    """The source of a run's records, ARTIQ's ``worker(RID,file name)``."""
    return "worker({},{})".format(rid, os.path.basename(file))


@dataclass(frozen=True)
class _Run:
    source: str
    level: int


class RunSources:
    """Which thread runs which experiment: its records' source and level (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}

    @contextlib.contextmanager
    def running(self, source: str, level: int) -> Iterator[None]:
        """Records made in this thread meanwhile are the run's: ``source``, from ``level`` up
        (the root logger lowered to ``level`` meanwhile if it is above)."""
        ident = threading.get_ident()
        root = logging.getLogger()
        previous = root.level
        with self._lock:
            self._runs[ident] = _Run(source, level)
        if level < root.getEffectiveLevel():
            root.setLevel(level)
        try:
            yield
        finally:
            root.setLevel(previous)
            with self._lock:
                del self._runs[ident]

    def of_current_thread(self) -> _Run | None:
        """The run of the calling thread, or None."""
        with self._lock:
            return self._runs.get(threading.get_ident())


class SourceLevels(logging.Filter):
    """Where a record comes from, and whether it is at or above its source's level (ARTIQ's
    ``SourceFilter``, with a level per run): made in a run's thread, the run's; with a ``source``
    attribute (forwarded from a controller), that source, whatever its level; else the master's.

    :param runs: the runs whose threads' records are the experiments'.
    :param master_level: the master's own records pass from this level up.
    """

    def __init__(self, runs: RunSources, master_level: int) -> None:
        super().__init__()
        self._runs = runs
        self._master_level = master_level

    def source_of(self, record: logging.LogRecord) -> str | None:
        """The record's source, None if it is below its source's level."""
        forwarded = getattr(record, "source", None)
        if isinstance(forwarded, str):
            return forwarded
        run = self._runs.of_current_thread()
        if run is not None:
            return run.source if record.levelno >= run.level else None
        return MASTER_SOURCE if record.levelno >= self._master_level else None

    def filter(self, record: logging.LogRecord) -> bool:
        return self.source_of(record) is not None


class LogForwarder(logging.Handler):
    """Hand each record that passes ``levels`` to ``send`` as a :class:`LogMessage` (``send``
    is called in the thread that logged: it must be thread-safe and must not log)."""

    def __init__(self, send: Callable[[LogMessage], None], levels: SourceLevels) -> None:
        super().__init__()
        self._send = send
        self._levels = levels
        self.setFormatter(logging.Formatter("%(name)s:%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        source = self._levels.source_of(record)
        if source is None:
            return
        try:
            text = self.format(record)
            self._send(LogMessage(record.levelno, source, record.created, text))
        except Exception:  # noqa: BLE001 - logging must not raise into the caller
            self.handleError(record)
