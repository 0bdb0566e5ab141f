# SPDX-License-Identifier: LGPL-3.0-or-later
"""One-way messages from a server to whoever listens on a named channel, on the wire as sipyco's
``broadcast`` (ARTIQ's master sends its log and the experiments' ``ccb`` calls this way, port
1067; the dashboard creates applets from the ``ccb`` channel).

Protocol: the receiver sends ``ARTIQ broadcast`` and the channel's name, one line each; the
server then sends each message as one PYON v2 line. Nothing is replayed: a receiver gets only
what is broadcast after it connected. A receiver that falls more than ``queue_limit`` messages
behind loses the newest ones.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from comms import pyon
from comms.server import LINE_LIMIT, TCPServer

__all__ = ["Broadcaster", "Receiver", "BANNER"]

logger = logging.getLogger(__name__)

#: First line a receiver sends.
BANNER = b"ARTIQ broadcast\n"


class Broadcaster(TCPServer):
    """Send messages to the receivers of a channel (``broadcast(channel, obj)``)."""

    def __init__(self, queue_limit: int = 1024):
        super().__init__()
        self._queue_limit = queue_limit
        self._recipients: dict[str, set[asyncio.Queue]] = {}

    def broadcast(self, channel: str, obj: Any) -> None:
        """Send ``obj`` to every receiver of ``channel`` (event loop thread only)."""
        queues = self._recipients.get(channel)
        if not queues:
            return
        line = (pyon.encode(obj) + "\n").encode()
        for queue in queues:
            try:
                queue.put_nowait(line)
            except asyncio.QueueFull:
                pass  # no log: the log itself may be broadcast

    async def _handle_connection_cr(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if await reader.readline() != BANNER:
            return
        line = await reader.readline()
        if not line.endswith(b"\n"):
            return
        channel = line.decode()[:-1]
        queue: asyncio.Queue = asyncio.Queue(self._queue_limit)
        self._recipients.setdefault(channel, set()).add(queue)
        try:
            while True:
                writer.write(await queue.get())
                await writer.drain()
        finally:
            self._recipients[channel].discard(queue)
            if not self._recipients[channel]:
                del self._recipients[channel]


class Receiver:
    """Receive a channel: ``await connect(host, port)``; ``notify_cb`` gets each message."""

    def __init__(
        self,
        channel: str,
        notify_cb: Callable[[Any], Any] | list[Callable[[Any], Any]],
        disconnect_cb: Callable[[], Any] | None = None,
    ):
        self.channel = channel
        self.notify_cbs = notify_cb if isinstance(notify_cb, list) else [notify_cb]
        self.disconnect_cb = disconnect_cb
        self._task: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, host: str, port: int) -> None:
        """Connect and start receiving in a task."""
        reader, writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
        writer.write(BANNER + (self.channel + "\n").encode())
        self._writer = writer
        self._task = asyncio.ensure_future(self._receive(reader))

    async def close(self) -> None:
        """Stop receiving (``disconnect_cb`` is not called)."""
        self.disconnect_cb = None
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    return
                obj = pyon.decode(line, v1_fallback=False)
                for cb in self.notify_cbs:
                    cb(obj)
        except (ConnectionError, ValueError) as exc:
            if isinstance(exc, ValueError):
                logger.error("broadcast: bad message: %s", exc)
        finally:
            if self.disconnect_cb is not None:
                self.disconnect_cb()
