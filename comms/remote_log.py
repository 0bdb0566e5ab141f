# SPDX-License-Identifier: LGPL-3.0-or-later
"""Log records sent over TCP to a master, on the wire as sipyco's remote logging (ARTIQ's
controllers send their log to the master's logging port, 1066, which logs them as its own with
the controller's source).

Protocol: the client sends ``ARTIQ logging``, one line; then one line per record,
``source:LEVEL:logger name:message``, where ``LEVEL`` is ``CRITICAL``, ``ERROR``, ``WARN``,
``WARNING``, ``INFO``, ``DEBUG`` or ``TRACE``. A record of ``n`` > 1 lines is sent as
``source:LEVEL<n>:name:first line`` and its ``n - 1`` other lines as they are. A line whose text
after the source is not of that form is a ``print`` record at INFO. A line without a ``:``
closes the connection. Nothing is sent back.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Callable

from comms.server import TCPServer

__all__ = ["BANNER", "RemoteRecord", "RecordParser", "Server", "log_locally"]

logger = logging.getLogger(__name__)

#: First line a client sends.
BANNER = b"ARTIQ logging\n"
#: ARTIQ's TRACE level (below DEBUG).
TRACE = 5
_LEVELS = {
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": TRACE,
}
_RECORD = re.compile("({})(?:<(\\d+)>)?:([^:]*):(.*)".format("|".join(_LEVELS)))


@dataclass(frozen=True)
class RemoteRecord:
    """One record received."""

    source: str
    level: int
    name: str  # the logger's name at the source ("print" for a line that is not a record)
    message: str  # its lines joined with "\n"


class RecordParser:
    """Lines of one connection (without their newline) to records."""

    def __init__(self) -> None:
        self._pending: RemoteRecord | None = None
        self._lines_left = 0

    def feed(self, line: str) -> RemoteRecord | None:
        """The record ``line`` completes, or None (more lines to come).

        :raises ValueError: a first line without a ``:`` after the source."""
        if self._pending is not None:
            p = self._pending
            self._pending = RemoteRecord(p.source, p.level, p.name, p.message + "\n" + line)
            self._lines_left -= 1
            return self._complete()
        source, sep, text = line.partition(":")
        if not sep:
            raise ValueError("not a log line: {!r}".format(line))
        match = _RECORD.fullmatch(text)
        if match is None:
            return RemoteRecord(source, logging.INFO, "print", text)
        level, lines, name, message = match.groups()
        self._pending = RemoteRecord(source, _LEVELS[level], name, message)
        self._lines_left = max(int(lines or 1) - 1, 0)
        return self._complete()

    def _complete(self) -> RemoteRecord | None:
        if self._lines_left:
            return None
        record, self._pending = self._pending, None
        return record


def log_locally(record: RemoteRecord) -> None:
    """Hand ``record`` to the root logger's handlers as a record of logger ``record.name`` with
    a ``source`` attribute, whatever the local level (the source filtered it)."""
    root = logging.getLogger()
    root.handle(
        logging.makeLogRecord(
            {
                "name": record.name,
                "levelno": record.level,
                "levelname": logging.getLevelName(record.level),
                "msg": record.message,
                "source": record.source,
            }
        )
    )


class Server(TCPServer):
    """Receive records; ``on_record`` gets each (default: :func:`log_locally`)."""

    def __init__(self, on_record: Callable[[RemoteRecord], None] = log_locally) -> None:
        super().__init__()
        self._on_record = on_record

    async def _handle_connection_cr(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if await reader.readline() != BANNER:
            return
        parser = RecordParser()
        while True:
            raw = await reader.readline()
            if not raw.endswith(b"\n"):
                return
            try:
                record = parser.feed(raw[:-1].decode())
            except (UnicodeDecodeError, ValueError) as exc:
                peer = writer.get_extra_info("peername")
                logger.warning("remote logging: connection from %s dropped: %s", peer, exc)
                return
            if record is not None:
                self._on_record(record)
