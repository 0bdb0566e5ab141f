# SPDX-License-Identifier: LGPL-3.0-or-later
"""A run's printed output as log records, as ARTIQ's master turns its worker's output into records:
each line the experiment prints becomes an INFO record of logger ``print`` with the run's source
(sent whatever the levels, as ARTIQ sends a worker's output), so it reaches the ``log`` channel and
the master's console.

:class:`RunOutput` stands in for ``sys.stdout`` while the master serves: text written by a thread
inside :meth:`RunOutput.captured` is cut into lines (the last, unfinished one is sent when the
capture ends); text from any other thread goes to the stream it stands in for.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator, TextIO

__all__ = ["RunOutput", "PRINT_LOGGER"]

#: Logger name of the records made from printed lines (ARTIQ's).
PRINT_LOGGER = "print"


class RunOutput:
    """``sys.stdout`` for a master: captured threads' lines to records, the rest to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._local = threading.local()

    @contextlib.contextmanager
    def captured(self, source: str) -> Iterator[None]:
        """What the calling thread writes meanwhile: records of ``source``."""
        self._local.source = source
        self._local.pending = ""
        try:
            yield
        finally:
            if self._local.pending:
                self._record(self._local.pending)
            self._local.source = None

    def write(self, text: str) -> int:
        """Write ``text``: records for a captured thread (complete lines), else to the stream."""
        if getattr(self._local, "source", None) is None or getattr(self._local, "busy", False):
            return self.stream.write(text)
        *lines, self._local.pending = (self._local.pending + text).split("\n")
        for line in lines:
            self._record(line.rstrip("\r"))
        return len(text)

    def flush(self) -> None:
        """Flush the stream (a captured thread's unfinished line waits for its end)."""
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _record(self, line: str) -> None:
        """Hand ``line`` to the root logger's handlers (a handler writing to ``sys.stdout``
        meanwhile writes to the stream)."""
        self._local.busy = True
        try:
            record = logging.makeLogRecord(
                {
                    "name": PRINT_LOGGER,
                    "levelno": logging.INFO,
                    "levelname": "INFO",
                    "msg": line,
                    "source": self._local.source,
                }
            )
            logging.getLogger().handle(record)
        finally:
            self._local.busy = False
