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
import inspect
import logging
import signal
from typing import Any, Callable, Sequence

from comms import pyon
from comms.rpc_clients import AsyncioClient, BestEffortClient, Client
from comms.rpc_wire import (
    BANNER,
    FEATURE,
    AutoTarget,
    GenericRemoteException,
    IncompatibleServer,
    encode_line,
    pack_exception,
)
from comms.server import TCPServer

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
            return encode_line({"status": "ok", "ret": ret})
        except asyncio.CancelledError:
            raise
        except SystemExit:
            self._terminate_request.set()
            return None
        except Exception as exc:
            return encode_line({"status": "failed", "exception": pack_exception(exc)})

    async def _handle_connection_cr(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if await reader.readline() != BANNER:
            return
        ident = {
            "targets": sorted(self.targets),
            "description": self.description,
            "features": [FEATURE],
        }
        writer.write(encode_line(ident))
        line = await reader.readline()
        if not line.endswith(b"\n"):
            return
        target_name, *features = line.decode()[:-1].split(" ")
        if features != [FEATURE]:
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
        writer.write(encode_line(methods))
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
