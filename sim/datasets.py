# SPDX-License-Identifier: LGPL-3.0-or-later
"""Datasets: the master's store (an ARTIQ-compatible LMDB ``dataset_db.mdb``) and the per-run
manager.

``dataset_db.mdb`` is the file ARTIQ 9's master (``artiq/master/databases.py::DatasetDB``) keeps: an
LMDB environment opened with ``subdir=False``; key = dataset name (UTF-8), value = PYON v2 of the
tuple ``(value, metadata)``. Only persistent datasets are stored. A lab's file can be used by the
simulator and the other way round.

:class:`DatasetManager` follows ARTIQ's worker-side semantics (``artiq/master/worker_db.py``):
``persist`` implies ``broadcast``; ``broadcast=False`` removes a broadcast entry this run created;
``archive`` puts the value in the results file; mutations act on the broadcast copy when there is
one.
"""

from __future__ import annotations

import logging
import os
from operator import setitem
from typing import Any, Callable

import lmdb

from comms import pyon
from sim.outputs import NotSaved

__all__ = ["DatasetDB", "DatasetManager", "MAP_SIZE"]

logger = logging.getLogger(__name__)

#: LMDB map size used by ARTIQ's master (1 GiB).
MAP_SIZE = 2**30


class DatasetDB:
    """The master dataset store, ``{key: (persist, value, metadata)}``, backed by LMDB.

    :param persist_file: path of ``dataset_db.mdb`` (created if missing; ``None`` keeps it in
    memory).
    """

    def __init__(self, persist_file: str | os.PathLike | None):
        self.persist_file = None if persist_file is None else os.fspath(persist_file)
        self.data: dict[str, tuple[bool, Any, dict]] = {}
        self._pending: set[str] = set()
        self._lmdb = None
        if self.persist_file is not None:
            self._lmdb = lmdb.open(self.persist_file, subdir=False, map_size=MAP_SIZE)
            try:
                _check_not_truncated(self._lmdb, self.persist_file)
            except lmdb.Error:
                self.close_db()
                raise
            with self._lmdb.begin() as txn:
                for key, raw in txn.cursor():
                    value, metadata = pyon.decode(raw.decode())
                    self.data[key.decode()] = (True, value, metadata)

    def get(self, key: str) -> Any:
        """Return the value of ``key`` (``KeyError`` if missing)."""
        return self.data[key][1]

    def get_metadata(self, key: str) -> dict:
        """Return the metadata dict of ``key`` (``KeyError`` if missing)."""
        return self.data[key][2]

    def set(
        self, key: str, value: Any, persist: bool | None = None, metadata: dict | None = None
    ) -> None:
        """Set ``key``; ``persist``/``metadata`` default to those of an existing entry."""
        old = self.data.get(key)
        if persist is None:
            persist = old[0] if old is not None else False
        if metadata is None:
            metadata = old[2] if old is not None else {}
        self.data[key] = (persist, value, metadata)
        self._pending.add(key)

    def delete(self, key: str) -> None:
        """Remove ``key`` (``KeyError`` if missing)."""
        del self.data[key]
        self._pending.add(key)

    def mutated(self, mod: dict) -> None:
        """The value of ``mod["path"][0]`` was changed in place as ``mod`` says (a sync_struct mod
        with path ``[key, 1]``, as ARTIQ's worker sends it to the master): mark it for saving."""
        self._pending.add(mod["path"][0])

    def save(self) -> None:
        """Write changed persistent entries to LMDB and remove deleted or non-persistent ones.

        :raises NotSaved: LMDB cannot write the file (a full disk); the store on disk is as it
            was, the changes stay pending (in memory).
        """
        if self._lmdb is None:
            self._pending.clear()
            return
        try:
            with self._lmdb.begin(write=True) as txn:
                for key in sorted(self._pending):
                    entry = self.data.get(key)
                    if entry is None or not entry[0]:
                        txn.delete(key.encode())
                    else:
                        txn.put(key.encode(), pyon.encode((entry[1], entry[2])).encode())
        except lmdb.Error as exc:  # DiskError "mdb_txn_commit: No space left on device", ...
            raise NotSaved(
                "dataset store {} could not be saved ({}): the datasets set to persist since "
                "it was last saved are not stored".format(
                    self.persist_file, str(exc).split(": ", 1)[-1]
                )
            ) from exc
        self._pending.clear()

    def close_db(self) -> None:
        """Close the LMDB environment (does not save)."""
        if self._lmdb is not None:
            self._lmdb.close()
            self._lmdb = None

    def __enter__(self) -> "DatasetDB":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.save()
        self.close_db()


def _check_not_truncated(env: Any, path: str) -> None:
    """Raise ``lmdb.Error`` if the file at ``path`` ends before the last page its meta page
    names (a copy cut short, a disk that filled up outside LMDB): reading such a page through
    LMDB's memory map kills the process with SIGBUS, not an error."""
    pages = env.info()["last_pgno"] + 1
    need, size = pages * env.stat()["psize"], os.path.getsize(path)
    if size < need:
        raise lmdb.Error(
            "{}: truncated ({} bytes, its last page ends at {}); restore it from a copy, or "
            "move it away to start with an empty store".format(path, size, need)
        )


class DatasetManager:
    """Datasets of one experiment run.

    :param ddb: the master store (:class:`DatasetDB` or anything with ``get``/``get_metadata``/
        ``set``/``delete``).
    :param on_set: optional callback ``(key, value)`` called after every ``set`` (progress display).
    :param on_read: optional callback ``(key)`` called when a value is read from the master store
        (the simulator's check of calibrations measured at another lab).

    ``local`` holds archived datasets (written to ``datasets/``), ``archive`` the master datasets
    read with ``archive=True`` (written to ``archive/``), ``metadata`` the metadata of every key
    set.
    """

    def __init__(
        self,
        ddb: Any,
        on_set: Callable[[str, Any], None] | None = None,
        on_read: Callable[[str], None] | None = None,
    ):
        self.ddb = ddb
        self.on_read = on_read
        self.local: dict[str, Any] = {}
        self.archive: dict[str, Any] = {}
        self.metadata: dict[str, dict] = {}
        self.broadcast: dict[str, tuple[bool, Any, dict]] = {}
        self.on_set = on_set

    def set(
        self, key: str, value: Any, metadata: dict, broadcast: bool, persist: bool, archive: bool
    ) -> None:
        """Set a dataset with ARTIQ's broadcast/persist/archive rules."""
        if persist:
            broadcast = True
        if not (broadcast or archive):
            logger.warning(
                "Dataset '%s' will not be stored. Both 'broadcast' and 'archive' are set to False.",
                key,
            )
        if broadcast:
            self.broadcast[key] = (persist, value, metadata)
            self.ddb.set(key, value, persist=persist, metadata=metadata)
        elif key in self.broadcast:
            del self.broadcast[key]
            try:
                self.ddb.delete(key)
            except KeyError:
                pass
        if archive:
            self.local[key] = value
        else:
            self.local.pop(key, None)
        self.metadata[key] = metadata
        if self.on_set is not None:
            self.on_set(key, value)

    def _mutation_target(self, key: str) -> Any:
        if key in self.broadcast:
            return self.broadcast[key][1]
        if key not in self.local:
            raise KeyError("Cannot mutate nonexistent dataset '{}'".format(key))
        return self.local[key]

    def _mutated(self, key: str, mod: dict) -> None:
        """Tell the master store about an in-place change of a broadcast dataset."""
        mutated = getattr(self.ddb, "mutated", None)
        if key in self.broadcast and mutated is not None:
            mutated(mod)

    def mutate(self, key: str, index: Any, value: Any) -> None:
        """``dataset[index] = value``; tuple index → slice, tuple of tuples → multi-dim slices."""
        target = self._mutation_target(key)
        if isinstance(index, tuple):
            if isinstance(index[0], tuple):
                index = tuple(slice(*e) for e in index)
            else:
                index = slice(*index)
        setitem(target, index, value)
        self._mutated(key, {"action": "setitem", "path": [key, 1], "key": index, "value": value})

    def append_to(self, key: str, value: Any) -> None:
        """Append to a list dataset."""
        self._mutation_target(key).append(value)
        self._mutated(key, {"action": "append", "path": [key, 1], "x": value})

    def get(self, key: str, archive: bool = False) -> Any:
        """This run's value first, else the master's (recorded in ``archive`` if requested)."""
        if key in self.local:
            return self.local[key]
        value = self.ddb.get(key)
        if self.on_read is not None:
            self.on_read(key)
        if archive:
            if key in self.archive:
                logger.warning("Dataset '%s' is already in archive, overwriting", key)
            self.archive[key] = value
        return value

    def get_metadata(self, key: str) -> dict:
        """Metadata set in this run, else the master's."""
        if key in self.metadata:
            return self.metadata[key]
        return self.ddb.get_metadata(key)

    def write_hdf5(self, f: Any, strict: bool = True) -> None:
        """Write groups ``datasets/`` and ``archive/`` (metadata as per-dataset attributes).

        ``strict``: see :func:`sim.results.write_group`."""
        from sim.results import write_group

        write_group(f.create_group("datasets"), self.local, self.metadata, strict)
        write_group(f.create_group("archive"), self.archive, self.metadata, strict)
