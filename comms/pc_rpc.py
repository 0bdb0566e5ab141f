# SPDX-License-Identifier: LGPL-3.0-or-later
"""Remote procedure calls between host computers, on the wire as sipyco's ``pc_rpc``: ARTIQ's
master, its controllers and their clients speak it; so do the servers and clients here, with the
same class names (:class:`Server`, :func:`simple_server_loop`, :class:`Client`,
:class:`AsyncioClient`, :class:`BestEffortClient`).

The protocol (sipyco 1.x with the ``pyon_v2`` feature; every message one line ending in ``\\n``):

1. the client sends the banner ``ARTIQ pc_rpc``;
2. the server answers its identification, JSON
   ``{"targets": [names, sorted], "description": str|null, "features": ["pyon_v2"]}``;
3. the client names its target followed by the features it selects: ``dataset_db pyon_v2``;
4. the server answers the target's callable member names, a PYON set;
5. then requests and replies alternate, one PYON v2 object each:
   ``{"action": "call", "name": ..., "args": [...], "kwargs": {...}}`` or
   ``{"action": "get_rpc_method_list"}``; replies ``{"status": "ok", "ret": ...}`` or
   ``{"status": "failed", "exception": {"class": ..., "message": ..., "traceback": [...]}}``.

An unknown banner, target or feature closes the connection without a reply; a request line that
is not PYON closes it too (with a warning in the server's log). The client raises a builtin
exception of the class the server names, anything else as :class:`GenericRemoteException`.

Differences from sipyco, on purpose: only PYON v2 is spoken (a client that does not select
``pyon_v2``, i.e. older than sipyco 1.6, is refused), and members whose name starts with ``_``
are neither listed nor callable.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import logging
import signal
import socket
import threading
import traceback
from typing import Any, Callable, Sequence

from comms import pyon
from comms.server import LINE_LIMIT, TCPServer, enable_keepalive

__all__ = [
    "AutoTarget",
    "AsyncioClient",
    "BestEffortClient",
    "Client",
    "GenericRemoteException",
    "IncompatibleServer",
    "Server",
    "simple_server_loop",
    "BANNER",
]

logger = logging.getLogger(__name__)

#: First line a client sends.
BANNER = b"ARTIQ pc_rpc\n"
_FEATURE = "pyon_v2"


class AutoTarget:
    """Target name for clients: the server's only target (``ValueError`` if it has several)."""


class IncompatibleServer(Exception):
    """The server does not offer the requested target, or does not speak PYON v2."""


class GenericRemoteException(Exception):
    """A remote exception of a class that is not a Python builtin (its message names it)."""

    parent_traceback: list[str]


def _choose_target(wanted: Any, offered: list[str]) -> str:
    if wanted is AutoTarget:
        if len(offered) != 1:
            raise ValueError("Server has multiple targets: " + " ".join(sorted(offered)))
        return offered[0]
    if wanted not in offered:
        raise IncompatibleServer("valid target name(s): " + " ".join(sorted(offered)))
    return str(wanted)


def _check_identification(ident: Any) -> tuple[list[str], str | None]:
    if not isinstance(ident, dict) or "targets" not in ident:
        raise IncompatibleServer("not a pc_rpc server (no identification)")
    if _FEATURE not in ident.get("features", []):
        raise IncompatibleServer("server does not offer PYON v2 (sipyco older than 1.6)")
    return list(ident["targets"]), ident.get("description")


def _pack_exception(exc: BaseException) -> dict:
    """The ``exception`` field of a failed reply."""
    cls = type(exc)
    tb = traceback.format_tb(exc.__traceback__)
    if getattr(builtins, cls.__name__, None) is cls:
        return {"class": cls.__name__, "message": str(exc), "traceback": tb}
    message = traceback.format_exception_only(cls, exc)[0].rstrip()
    return {"class": "GenericRemoteException", "message": message, "traceback": tb}


def _raise_packed(packed: dict) -> None:
    cls = getattr(builtins, str(packed.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = GenericRemoteException
    exc = cls(packed.get("message", ""))
    exc.parent_traceback = packed.get("traceback", [])  # type: ignore[attr-defined]
    raise exc


def _reply_value(reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise ValueError("malformed pc_rpc reply: {!r}".format(reply))
    if reply.get("status") == "ok":
        return reply.get("ret")
    if reply.get("status") == "failed":
        _raise_packed(reply.get("exception", {}))
    raise ValueError("malformed pc_rpc reply: {!r}".format(reply))


def _call_request(name: str, args: tuple, kwargs: dict) -> dict:
    return {"action": "call", "name": name, "args": args, "kwargs": kwargs}


def _line(obj: Any) -> bytes:
    return (pyon.encode(obj) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# clients


class _SocketLines:
    """A blocking socket read line by line (one buffer, so no byte of the next line is lost)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._file = sock.makefile("rb")

    def send(self, obj: Any) -> None:
        self.sock.sendall(_line(obj))

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
    targets, description = _check_identification(lines.recv())
    if target_name is None:
        return targets, description, "", set()
    name = _choose_target(target_name, targets)
    lines.sock.sendall("{} {}\n".format(name, _FEATURE).encode())
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
            self.__targets, self.__description = _check_identification(self.__lines.recv())
            self.__selected: str | None = None
            self.__methods: set = set()
            if target_name is not None:
                self.select_rpc_target(target_name)
        except BaseException:
            self.__lines.close()
            raise

    def select_rpc_target(self, target_name: Any) -> None:
        """Select the target (once, for a client made with ``target_name=None``)."""
        name = _choose_target(target_name, self.__targets)
        self.__lines.sock.sendall("{} {}\n".format(name, _FEATURE).encode())
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
        return _reply_value(self.__lines.recv())

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self.__methods:
            raise AttributeError(name)

        def proxy(*args: Any, **kwargs: Any) -> Any:
            return self.__request(_call_request(name, args, kwargs))

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
            self.__targets, self.__description = _check_identification(await self.__recv())
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
        name = _choose_target(target_name, self.__targets)
        self.__writer.write("{} {}\n".format(name, _FEATURE).encode())
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
            self.__writer.write(_line(obj))
            return _reply_value(await self.__recv())

    async def get_rpc_method_list(self) -> dict:
        """As :meth:`Client.get_rpc_method_list`."""
        return await self.__request({"action": "get_rpc_method_list"})

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self.__methods:
            raise AttributeError(name)

        async def proxy(*args: Any, **kwargs: Any) -> Any:
            return await self.__request(_call_request(name, args, kwargs))

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
            self.__lines.send(_call_request(name, args, kwargs))
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
        return _reply_value(reply)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # before the first connection the server's methods are unknown: every public name
        # returns None then (sipyco raises AttributeError, making the client useless offline)
        if name.startswith("_") or (self.__methods and name not in self.__methods):
            raise AttributeError(name)

        def proxy(*args: Any, **kwargs: Any) -> Any:
            return self.__do_rpc(name, args, kwargs)

        return proxy


# ---------------------------------------------------------------------------------------------
# server


def _public_methods(target: Any) -> dict[str, Callable]:
    return {
        name: member
        for name, member in inspect.getmembers(target, callable)
        if not name.startswith("_")
    }


def _annotation_name(a: Any) -> str:
    return a if isinstance(a, str) else str(getattr(a, "__name__", repr(a)))


def _describe(function: Callable) -> tuple[dict, str | None]:
    """``(argspec, docstring)`` of a method, its annotations as strings (PYON-encodable)."""
    try:
        spec = inspect.getfullargspec(function)._asdict()
    except TypeError:  # a builtin without a signature
        spec = {"args": [], "varargs": "args", "varkw": "kwargs", "defaults": None}
        spec.update(kwonlyargs=[], kwonlydefaults=None, annotations={})
    spec["annotations"] = {k: _annotation_name(v) for k, v in spec["annotations"].items()}
    return spec, inspect.getdoc(function)


_TERMINATE_SPEC: tuple[dict[str, Any], str] = (
    {
        "args": ["self"],
        "varargs": None,
        "varkw": None,
        "defaults": None,
        "kwonlyargs": [],
        "kwonlydefaults": None,
        "annotations": {},
    },
    "Terminate the server.",
)


class Server(TCPServer):
    """Serve the methods of named target objects.

    :param targets: ``{name: object}``; a client selects one by name (names without spaces). A
        callable target (a class, a factory) is called once per connection, as sipyco does, and
        the connection uses what it returns.
    :param description: free text sent in the identification.
    :param builtin_terminate: offer a ``terminate`` method that releases :meth:`wait_terminate`.
    :param allow_parallel: coroutine methods of different connections may run at the same time
        (otherwise one call at a time).

    Methods run in the event loop; a coroutine method is awaited.
    """

    def __init__(
        self,
        targets: dict[str, Any],
        description: str | None = None,
        builtin_terminate: bool = False,
        allow_parallel: bool = False,
    ):
        super().__init__()
        if any(" " in name for name in targets):
            raise ValueError("target names must not contain whitespace")
        if description is not None and not isinstance(description, str):
            raise ValueError("description must be `None` or `str`")
        self.targets = targets
        self.description = description
        self.builtin_terminate = builtin_terminate
        self._terminate_request = asyncio.Event()
        self._serial: asyncio.Lock | None = None if allow_parallel else asyncio.Lock()

    async def wait_terminate(self) -> None:
        """Return once a client called ``terminate`` (with ``builtin_terminate``)."""
        await self._terminate_request.wait()

    def _method_list(self, target: Any) -> dict:
        doc: dict[str, Any] = {"docstring": inspect.getdoc(target), "methods": {}}
        for name, method in _public_methods(target).items():
            doc["methods"][name] = _describe(method)
        if self.builtin_terminate:
            doc["methods"]["terminate"] = _TERMINATE_SPEC
        return doc

    async def _perform(self, target: Any, request: Any) -> Any:
        if not isinstance(request, dict):
            raise ValueError("request is not a dict")
        action = request.get("action")
        if action == "get_rpc_method_list":
            return self._method_list(target)
        if action != "call":
            raise ValueError("Unknown action: {}".format(action))
        name = request["name"]
        if self.builtin_terminate and name == "terminate":
            self._terminate_request.set()
            return None
        if not isinstance(name, str) or name.startswith("_"):
            raise AttributeError("no public method {!r}".format(name))
        method = getattr(target, name)
        result = method(*request.get("args", ()), **request.get("kwargs", {}))
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _reply(self, target: Any, request: Any) -> bytes | None:
        """The reply line, or ``None`` when the server is to stop (``SystemExit`` in a method)."""
        try:
            if self._serial is not None:
                async with self._serial:
                    ret = await self._perform(target, request)
            else:
                ret = await self._perform(target, request)
            return _line({"status": "ok", "ret": ret})
        except asyncio.CancelledError:
            raise
        except SystemExit:
            self._terminate_request.set()
            return None
        except Exception as exc:
            return _line({"status": "failed", "exception": _pack_exception(exc)})

    async def _handle_connection_cr(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if await reader.readline() != BANNER:
            return
        ident = {
            "targets": sorted(self.targets),
            "description": self.description,
            "features": [_FEATURE],
        }
        writer.write(_line(ident))
        line = await reader.readline()
        if not line.endswith(b"\n"):
            return
        target_name, *features = line.decode()[:-1].split(" ")
        if features != [_FEATURE]:
            logger.warning("pc_rpc client refused: features %s (only pyon_v2 is spoken)", features)
            return
        if target_name not in self.targets:
            return
        target = self.targets[target_name]
        if callable(target):
            target = target()
        methods = set(_public_methods(target))
        if self.builtin_terminate:
            methods.add("terminate")
        writer.write(_line(methods))
        while True:
            line = await reader.readline()
            if not line:
                return
            try:
                request = pyon.decode(line, v1_fallback=False)
            except Exception as exc:
                logger.warning("pc_rpc: closing a connection that sent a non-PYON line (%s)", exc)
                return
            reply = await self._reply(target, request)
            if reply is None:
                return
            writer.write(reply)
            await writer.drain()


def simple_server_loop(
    targets: dict[str, Any],
    host: str | Sequence[str] | None,
    port: int,
    description: str | None = None,
    allow_parallel: bool = False,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Serve ``targets`` (with ``terminate``) until a client calls ``terminate``, or SIGINT or
    SIGTERM arrives. ``host`` may be a list of addresses. Uses ``loop`` if given, else a new
    event loop it closes at the end."""
    used = loop if loop is not None else asyncio.new_event_loop()
    asyncio.set_event_loop(used)
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                used.add_signal_handler(signum, stop.set)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or Windows
        server = Server(targets, description, True, allow_parallel)
        used.run_until_complete(server.start(host, port))
        try:
            waiters = [
                used.create_task(stop.wait()),
                used.create_task(server.wait_terminate()),
            ]
            _, pending = used.run_until_complete(
                asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            )
            for task in pending:
                task.cancel()
        finally:
            used.run_until_complete(server.stop())
    finally:
        for signum in installed:
            used.remove_signal_handler(signum)
        if loop is None:
            used.close()
