# SPDX-License-Identifier: LGPL-3.0-or-later
"""The TCP server the protocols of :mod:`comms` share: asyncio, one task per connection, bound
to one or several addresses, TCP keepalive on every accepted socket, and a ``stop()`` that ends
the connections it accepted.

Subclasses implement :meth:`TCPServer._handle_connection_cr` (one connection, from its first
byte); the connection is closed when it returns or raises.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Sequence

__all__ = ["TCPServer", "enable_keepalive", "wait_for_server", "LINE_LIMIT"]

logger = logging.getLogger(__name__)

#: Longest line (bytes) a server or client of :mod:`comms` accepts: large datasets (arrays of
#: 10⁶ values) are sent as one PYON line.
LINE_LIMIT = 100 * 1024 * 1024


def enable_keepalive(sock: socket.socket | None) -> None:
    """Turn on TCP keepalive (the operating system's timings) so a peer that vanished without
    closing is noticed."""
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class TCPServer:
    """An asyncio TCP server; ``await start(host, port)``, then ``await stop()``."""

    def __init__(self) -> None:
        self._client_tasks: set[asyncio.Task] = set()
        self._servers: list[asyncio.Server] = []

    async def start(self, host: str | Sequence[str] | None, port: int) -> None:
        """Listen on ``port`` at ``host``: one address, a list of them (as ARTIQ's servers bind
        ``["127.0.0.1", "::1"]``), or ``None`` for every interface. ``port`` 0 picks a free port,
        the same for every address (see :attr:`port`)."""
        hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
        try:
            for h in hosts:
                server = await asyncio.start_server(
                    self._accept, h, port, limit=LINE_LIMIT, reuse_address=True
                )
                self._servers.append(server)
                port = int(server.sockets[0].getsockname()[1])
        except BaseException:
            await self.stop()
            raise

    @property
    def port(self) -> int:
        """The TCP port listened on (useful after ``start(..., 0)``)."""
        if not self._servers:
            raise RuntimeError("server not started")
        return int(self._servers[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listening sockets and every connection still open."""
        tasks = list(self._client_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
            await server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        enable_keepalive(writer.get_extra_info("socket"))
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._client_tasks.add(task)
        task.add_done_callback(self._client_tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            await self._handle_connection_cr(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            logger.debug("connection from %s lost", peer)
        except asyncio.LimitOverrunError:
            logger.warning("connection from %s closed: line longer than %d bytes", peer, LINE_LIMIT)
        except ValueError as exc:  # StreamReader.readline on an overlong line
            logger.warning("connection from %s closed: %s", peer, exc)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _handle_connection_cr(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        raise NotImplementedError


def wait_for_server(host: str, port: int, timeout: float) -> None:
    """Block until a TCP connection to ``host:port`` succeeds (``TimeoutError`` after
    ``timeout`` seconds): for scripts and tests that start a server in another process."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("nothing listens on {}:{}".format(host, port)) from None
            time.sleep(0.05)
