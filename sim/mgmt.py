# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated core device's management port: the core log over ARTIQ's management protocol,
so that ``artiq_coremgmt log`` and ``CommMgmt(host).get_log()`` work against a simulated core.

Served on a loopback address only, in a daemon thread of the process whose cores it reports. The
protocol as ARTIQ's host side (``artiq/coredevice/comm_mgmt.py``) speaks it: the client sends
``ARTIQ management\\n`` and a DRTIO destination byte, the core answers ``e`` (little-endian); then
one request byte each: ``GetLog`` (1) and ``PullLog`` (7, which also clears) are answered with
``LogContent`` (2) and a length-prefixed UTF-8 text, ``ClearLog`` (2) with ``Success`` (1), and
every other request (configuration, reboot, flash …) with ``Unavailable`` (4).

The log is the core-log lines (RTIO collisions, busy and sequence errors, uncaught underflows) of
every simulated core of the process since the last clear, as the firmware formats its log:
``[  t.tttttts] ERROR(runtime::rtio_mgt): <line>``, ``t`` the RTIO counter in seconds.
"""

from __future__ import annotations

import logging
import socketserver
import struct
import threading
import weakref
from typing import Any

__all__ = ["register_engine", "serve", "log_text", "clear_log", "DEFAULT_PORT"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 1380
_MAGIC = b"ARTIQ management\n"
_GET_LOG, _CLEAR_LOG, _PULL_LOG = 1, 2, 7
_SUCCESS, _LOG_CONTENT, _UNAVAILABLE = 1, 2, 4

_lock = threading.Lock()
_engines: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()  # → lines cleared
_servers: dict[tuple[str, int], socketserver.BaseServer] = {}


def register_engine(engine: Any) -> None:
    """Report ``engine``'s core log (its ``core_log`` lines) on the management port."""
    with _lock:
        _engines.setdefault(engine, 0)


def log_text() -> str:
    """The core-log lines not yet cleared, formatted as the firmware's log."""
    lines = []
    with _lock:
        for engine, done in list(_engines.items()):
            t = engine.counter * engine.ref_period
            for msg in engine.core_log[done:]:
                lines.append("[{:>12.6f}s] ERROR(runtime::rtio_mgt): {}\n".format(t, msg))
    return "".join(lines)


def clear_log() -> None:
    """Forget the lines logged so far."""
    with _lock:
        for engine in list(_engines.keys()):
            _engines[engine] = len(engine.core_log)


class _Handler(socketserver.BaseRequestHandler):
    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionResetError
            data += chunk
        return data

    def handle(self) -> None:
        try:
            if self._read(len(_MAGIC)) != _MAGIC:
                return
            self._read(1)  # DRTIO destination: the simulated core is destination 0
            self.request.sendall(b"e")
            while True:
                request = self._read(1)[0]
                if request in (_GET_LOG, _PULL_LOG):
                    text = log_text().encode()
                    if request == _PULL_LOG:
                        clear_log()
                    reply = struct.pack("<Bl", _LOG_CONTENT, len(text)) + text
                    self.request.sendall(reply)
                elif request == _CLEAR_LOG:
                    clear_log()
                    self.request.sendall(struct.pack("<B", _SUCCESS))
                else:
                    self.request.sendall(struct.pack("<B", _UNAVAILABLE))
        except (ConnectionError, OSError):
            return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int | None:
    """Serve the management port on ``host`` (a loopback address) in a daemon thread, once per
    process and address (``port`` 0: a free port). Returns the port served, or None, with one
    warning, when it cannot be bound."""
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("the simulated management port serves 127.0.0.1 only")
    with _lock:
        if port and (host, port) in _servers:
            return port
        try:
            server = _Server((host, port), _Handler)
        except OSError as exc:
            logger.warning("simulated core management port %s:%d not served: %s", host, port, exc)
            return None
        bound = server.server_address[1]
        _servers[(host, bound)] = server
    threading.Thread(target=server.serve_forever, name="sim-core-mgmt", daemon=True).start()
    return bound
