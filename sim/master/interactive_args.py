# SPDX-License-Identifier: LGPL-3.0-or-later
"""Interactive arguments through the simulated master, as ARTIQ's master serves them: an
experiment's ``with self.interactive(title) as ns: ns.setattr_argument(...)`` waits, in the
worker thread, until a client supplies the values or cancels.

- notify port: ``interactive_args``, ``{rid: {"title": str, "arglist_desc": [(key,
  processor.describe(), group, tooltip), ...]}}``, the requests waiting;
- control port: ``interactive_arg_db`` with ``supply(rid, values)`` (``values``: ``{key: value}``,
  exactly the keys asked for, unprocessed, as the dashboard sends them) and ``cancel(rid)`` (the
  experiment gets ``CancelledArgsError``).

A run whose termination is requested while it waits ends as terminated (``TerminationRequested``).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["InteractiveArgDB"]

#: How often a waiting request checks whether its run was asked to terminate (s, wall clock: the
#: wait is outside the simulated timeline).
POLL_S = 0.1


class _Request:
    def __init__(self, keys: set[str]):
        self.keys = keys
        self.done = threading.Event()
        self.values: dict | None = None


class InteractiveArgDB:
    """ARTIQ's ``interactive_arg_db`` RPC target and its ``interactive_args`` notifier.

    :param sync_struct: the sync_struct module whose ``Notifier`` the publisher takes.
    :param post: hands a call to the event loop (thread-safe).
    :param termination_requested: ``rid → bool``, true once run ``rid`` should stop.
    """

    def __init__(
        self,
        sync_struct: Any,
        post: Callable[..., None],
        termination_requested: Callable[[int], bool],
    ):
        self.pending = sync_struct.Notifier({})
        self._post = post
        self._termination_requested = termination_requested
        self._lock = threading.Lock()
        self._requests: dict[int, _Request] = {}

    # -- the experiment's side (worker thread) ------------------------------------------------
    def request(self, rid: int, arglist_desc: list, title: str) -> dict | None:
        """Publish the request of run ``rid`` and wait: the supplied values (unprocessed),
        ``None`` if cancelled.

        :raises TerminationRequested: termination of the run was requested meanwhile."""
        from artiq.language.core import TerminationRequested

        request = _Request({desc[0] for desc in arglist_desc})
        with self._lock:
            self._requests[rid] = request
        self._post(self._publish, rid, {"title": title, "arglist_desc": arglist_desc})
        try:
            while not request.done.wait(POLL_S):
                if self._termination_requested(rid):
                    raise TerminationRequested
            return request.values
        finally:
            with self._lock:
                del self._requests[rid]
            self._post(self._withdraw, rid)

    def _publish(self, rid: int, entry: dict) -> None:
        self.pending[rid] = entry

    def _withdraw(self, rid: int) -> None:
        if rid in self.pending.raw_view:
            del self.pending[rid]

    # -- RPC (event loop) -----------------------------------------------------------------------
    def _waiting(self, rid: int) -> _Request:
        request = self._requests.get(rid)
        if request is None or request.done.is_set():
            raise ValueError("no experiment with this RID is waiting for interactive arguments")
        return request

    def supply(self, rid: int, values: dict) -> None:
        """Give run ``rid`` the values it asked for.

        :raises ValueError: no such request, or the keys differ from those asked for."""
        with self._lock:
            request = self._waiting(rid)
            if set(values) != request.keys:
                raise ValueError("supplied and requested keys do not match")
            request.values = dict(values)
            request.done.set()

    def cancel(self, rid: int) -> None:
        """Cancel the request of run ``rid`` (``ValueError`` if there is none)."""
        with self._lock:
            self._waiting(rid).done.set()
