# SPDX-License-Identifier: LGPL-3.0-or-later
"""pc_rpc clients, as sipyco names them: :class:`Client` (blocking), :class:`AsyncioClient`,
:class:`BestEffortClient` (never raises network errors, reconnects in the background). Import
them from :mod:`comms.pc_rpc`."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any, Callable

from comms import pyon
from comms.rpc_wire import (
    BANNER,
    FEATURE,
    AutoTarget,
    call_request,
    check_identification,
    choose_target,
    encode_line,
    reply_value,
)
from comms.server import LINE_LIMIT, enable_keepalive

__all__ = ["AsyncioClient", "BestEffortClient", "Client"]

logger = logging.getLogger(__name__)


class _SocketLines:
    """A blocking socket read line by line (one buffer, so no byte of the next line is lost)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._file = sock.makefile("rb")

    def send(self, obj: Any) -> None:
        self.sock.sendall(encode_line(obj))

    def recv(self) -> Any:
        line = self._file.readline(LINE_LIMIT)
        if not line.endswith(b"\n"):
            raise EOFError("connection closed by the server")
        return pyon.decode(line, v1_fallback=False)

    def close(self) -> None:
        self._file.close()
        self.sock.close()


def _handshake(lines: _SocketLines, target_name: Any) -> tuple[list[str], str | None, str, set]:
    lines.sock.sendall(BANNER)
    targets, description = check_identification(lines.recv())
    if target_name is None:
        return targets, description, "", set()
    name = choose_target(target_name, targets)
    lines.sock.sendall("{} {}\n".format(name, FEATURE).encode())
    return targets, description, name, set(lines.recv())


class Client:
    """A blocking client: the server's methods as local ones (``c.ping()``).

    :param host: server address (name, IPv4 or IPv6).
    :param port: TCP port.
    :param target_name: the target to use; :class:`AutoTarget` for the server's only one;
        ``None`` to choose later with :meth:`select_rpc_target`.
    :param timeout: seconds for connecting and for each reply (``socket.timeout``, a
        ``TimeoutError``, when it passes); ``None`` waits for ever.
    """

    def __init__(
        self,
        host: str,
        port: int,
        target_name: Any = AutoTarget,
        timeout: float | None = None,
    ):
        sock = socket.create_connection((host, port), timeout)
        self.__lines = _SocketLines(sock)
        try:
            sock.sendall(BANNER)
            self.__targets, self.__description = check_identification(self.__lines.recv())
            self.__selected: str | None = None
            self.__methods: set = set()
            if target_name is not None:
                self.select_rpc_target(target_name)
        except BaseException:
            self.__lines.close()
            raise

    def select_rpc_target(self, target_name: Any) -> None:
        """Select the target (once, for a client made with ``target_name=None``)."""
        name = choose_target(target_name, self.__targets)
        self.__lines.sock.sendall("{} {}\n".format(name, FEATURE).encode())
        self.__selected = name
        self.__methods = set(self.__lines.recv())

    def get_selected_target(self) -> str | None:
        """The selected target's name, or ``None``."""
        return self.__selected

    def get_rpc_id(self) -> tuple[list[str], str | None]:
        """``(target names, description)`` as the server identified itself."""
        return self.__targets, self.__description

    def get_local_host(self) -> str:
        """The address of this end of the connection."""
        return str(self.__lines.sock.getsockname()[0])

    def get_rpc_method_list(self) -> dict:
        """``{"docstring": ..., "methods": {name: (argspec, docstring)}}`` of the target."""
        return self.__request({"action": "get_rpc_method_list"})

    def close_rpc(self) -> None:
        """Close the connection; no call may follow."""
        self.__lines.close()

    def __request(self, obj: dict) -> Any:
        self.__lines.send(obj)
        return reply_value(self.__lines.recv())

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self.__methods:
            raise AttributeError(name)

        def proxy(*args: Any, **kwargs: Any) -> Any:
            return self.__request(call_request(name, args, kwargs))

        return proxy


class AsyncioClient:
    """The asyncio counterpart of :class:`Client`: ``await connect_rpc(host, port, target)``;
    every remote method is a coroutine; concurrent calls share the connection under one lock."""

    def __init__(self) -> None:
        self.__lock = asyncio.Lock()
        self.__reader: asyncio.StreamReader | None = None
        self.__writer: asyncio.StreamWriter | None = None
        self.__targets: list[str] | None = None
        self.__description: str | None = None
        self.__selected: str | None = None
        self.__methods: set = set()

    async def connect_rpc(self, host: str, port: int, target_name: Any = AutoTarget) -> None:
        """Connect and (unless ``target_name`` is ``None``) select the target."""
        self.__reader, self.__writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
        enable_keepalive(self.__writer.get_extra_info("socket"))
        try:
            self.__writer.write(BANNER)
            self.__targets, self.__description = check_identification(await self.__recv())
            self.__selected = None
            self.__methods = set()
            if target_name is not None:
                await self.select_rpc_target(target_name)
        except BaseException:
            await self.close_rpc()
            raise

    async def select_rpc_target(self, target_name: Any) -> None:
        """Select the target (once, after ``connect_rpc(..., target_name=None)``)."""
        if self.__writer is None or self.__targets is None:
            raise ConnectionError("not connected")
        name = choose_target(target_name, self.__targets)
        self.__writer.write("{} {}\n".format(name, FEATURE).encode())
        self.__selected = name
        self.__methods = set(await self.__recv())

    def get_selected_target(self) -> str | None:
        """The selected target's name, or ``None``."""
        return self.__selected

    def get_rpc_id(self) -> tuple[list[str] | None, str | None]:
        """``(target names, description)`` as the server identified itself."""
        return self.__targets, self.__description

    def get_local_host(self) -> str:
        """The address of this end of the connection."""
        if self.__writer is None:
            raise ConnectionError("not connected")
        return str(self.__writer.get_extra_info("socket").getsockname()[0])

    async def close_rpc(self) -> None:
        """Close the connection."""
        writer, self.__writer, self.__reader = self.__writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self.__targets = self.__description = None

    async def __recv(self) -> Any:
        if self.__reader is None:
            raise ConnectionError("not connected")
        line = await self.__reader.readline()
        if not line.endswith(b"\n"):
            raise EOFError("connection closed by the server")
        return pyon.decode(line, v1_fallback=False)

    async def __request(self, obj: dict) -> Any:
        async with self.__lock:
            if self.__writer is None:
                raise ConnectionError("not connected")
            self.__writer.write(encode_line(obj))
            return reply_value(await self.__recv())

    async def get_rpc_method_list(self) -> dict:
        """As :meth:`Client.get_rpc_method_list`."""
        return await self.__request({"action": "get_rpc_method_list"})

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self.__methods:
            raise AttributeError(name)

        async def proxy(*args: Any, **kwargs: Any) -> Any:
            return await self.__request(call_request(name, args, kwargs))

        return proxy


class BestEffortClient:
    """A blocking client that never raises network errors: a call that meets one returns
    ``None`` and the client reconnects in a background thread every ``retry`` seconds (calls
    made meanwhile return ``None`` at once). Remote exceptions are still raised.

    :param firstcon_timeout: seconds for the first connection attempt (made in ``__init__``).
    :param retry: seconds between reconnection attempts.
    """

    def __init__(
        self,
        host: str,
        port: int,
        target_name: Any,
        firstcon_timeout: float = 1.0,
        retry: float = 5.0,
    ):
        self.__host, self.__port, self.__target = host, port, target_name
        self.__retry = retry
        self.__lines: _SocketLines | None = None
        self.__methods: set = set()
        self.__closing = threading.Event()
        self.__thread: threading.Thread | None = None
        try:
            self.__connect(firstcon_timeout)
        except Exception:
            logger.warning(
                "first connection attempt to %s:%d[%s] failed, retrying in the background",
                host,
                port,
                target_name,
                exc_info=True,
            )
            self.__start_reconnecting()

    def __connect(self, timeout: float | None) -> None:
        sock = socket.create_connection((self.__host, self.__port), timeout)
        lines = _SocketLines(sock)
        try:
            _, _, _, methods = _handshake(lines, self.__target)
        except BaseException:
            lines.close()
            raise
        sock.settimeout(None)  # a handshake that hangs is bounded; calls then wait for replies
        self.__lines, self.__methods = lines, methods

    def __start_reconnecting(self) -> None:
        self.__thread = threading.Thread(target=self.__reconnect, daemon=True)
        self.__thread.start()

    def __reconnect(self) -> None:
        while not self.__closing.is_set():
            try:
                self.__connect(self.__retry)
            except Exception:
                self.__closing.wait(self.__retry)
            else:
                logger.warning(
                    "connection to %s:%d[%s] established in the background",
                    self.__host,
                    self.__port,
                    self.__target,
                )
                break
        if self.__closing.is_set() and self.__lines is not None:
            self.__lines.close()
        self.__thread = None

    def close_rpc(self) -> None:
        """Close the connection (and stop reconnecting)."""
        self.__closing.set()
        if self.__thread is None and self.__lines is not None:
            self.__lines.close()

    def __do_rpc(self, name: str, args: tuple, kwargs: dict) -> Any:
        if self.__thread is not None or self.__lines is None:
            return None
        try:
            self.__lines.send(call_request(name, args, kwargs))
            reply = self.__lines.recv()
        except (OSError, EOFError, ValueError):
            logger.warning(
                "connection failed while attempting RPC to %s:%d[%s], "
                "re-establishing connection in the background",
                self.__host,
                self.__port,
                self.__target,
            )
            self.__lines.close()
            self.__lines = None
            self.__start_reconnecting()
            return None
        return reply_value(reply)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # before the first connection the server's methods are unknown: every public name
        # returns None then (sipyco raises AttributeError, making the client useless offline)
        if name.startswith("_") or (self.__methods and name not in self.__methods):
            raise AttributeError(name)

        def proxy(*args: Any, **kwargs: Any) -> Any:
            return self.__do_rpc(name, args, kwargs)

        return proxy
