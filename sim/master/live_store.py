# SPDX-License-Identifier: LGPL-3.0-or-later
"""The master's dataset store as its clients see it: the simulator's
:class:`~sim.datasets.DatasetDB` (the experiments' store, saved to ``dataset_db.mdb``) with
every change also sent, as a sync_struct mod, to the ``datasets`` notifier that the master
publishes.

The experiments run in a worker thread, the servers in the event loop's thread. The notifier is
a mirror owned by the loop's thread: each change is applied here under a lock, copied (so that
later in-place changes by the experiment cannot alter a mod already sent) and handed to the loop
with ``post``, which applies it to the mirror and so publishes it. Mods reach subscribers in the
order they were made. The RPC methods are those of ARTIQ's ``dataset_db`` target (``get``,
``get_metadata``, ``set``, ``delete``, ``update``).
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable

from sim.datasets import DatasetDB

__all__ = ["LiveDatasetDB"]


class LiveDatasetDB:
    """``ddb`` with its changes published.

    :param ddb: the simulation's store (its ``data`` is ``{key: (persist, value, metadata)}``).
    :param post: called (from any thread) with each mod; must be thread-safe and keep order.
    """

    def __init__(self, ddb: DatasetDB, post: Callable[[dict], None]):
        self.ddb = ddb
        self._post = post
        self._lock = threading.RLock()

    @property
    def data(self) -> dict:
        """The store's entries (read them only)."""
        return self.ddb.data

    def snapshot(self) -> dict:
        """A deep copy of every entry (the mirror's initial content)."""
        with self._lock:
            return copy.deepcopy(self.ddb.data)

    # -- what the experiments' dataset managers call (worker thread) --------------------------
    def get(self, key: str) -> Any:
        """The value of ``key`` (``KeyError`` if missing)."""
        with self._lock:
            return self.ddb.get(key)

    def get_metadata(self, key: str) -> dict:
        """The metadata of ``key`` (``KeyError`` if missing)."""
        with self._lock:
            return self.ddb.get_metadata(key)

    def set(
        self, key: str, value: Any, persist: bool | None = None, metadata: dict | None = None
    ) -> None:
        """Set ``key`` (``persist``/``metadata`` default to the existing entry's) and publish."""
        with self._lock:
            self.ddb.set(key, value, persist=persist, metadata=metadata)
            entry = copy.deepcopy(self.ddb.data[key])
            self._post({"action": "setitem", "path": [], "key": key, "value": entry})

    def delete(self, key: str) -> None:
        """Remove ``key`` (``KeyError`` if missing) and publish."""
        with self._lock:
            self.ddb.delete(key)
            self._post({"action": "delitem", "path": [], "key": key})

    def mutated(self, mod: dict) -> None:
        """An experiment changed a broadcast value in place, as ``mod`` says: publish it."""
        with self._lock:
            self.ddb.mutated(mod)
            self._post(copy.deepcopy(mod))

    def update(self, mod: dict) -> None:
        """Apply a sync_struct mod to the store (ARTIQ's ``dataset_db.update``, what applets'
        ``mutate_dataset``/``append_to_dataset`` send) and publish it."""
        from comms.sync_struct import process_mod

        path = mod.get("path") or []
        if path:
            key = path[0]
        elif mod.get("action") in ("setitem", "delitem"):
            key = mod["key"]
        else:
            raise ValueError("a mod without path must be setitem or delitem")
        with self._lock:
            if path and key not in self.ddb.data:
                raise KeyError(key)
            if not path and mod["action"] == "setitem":
                persist, value, metadata = mod["value"]
                self.ddb.set(key, value, persist=bool(persist), metadata=dict(metadata))
            elif not path:
                self.ddb.delete(key)
            else:
                process_mod(self.ddb.data, mod)
                self.ddb.mutated({**mod, "path": [key, 1]})
            self._post(copy.deepcopy(mod))

    # -- the store's own lifecycle -------------------------------------------------------------
    def save(self) -> None:
        """Write persistent entries to ``dataset_db.mdb``."""
        with self._lock:
            self.ddb.save()

    def close_db(self) -> None:
        """Close the LMDB file."""
        with self._lock:
            self.ddb.close_db()
