# SPDX-License-Identifier: LGPL-3.0-or-later
"""The stores of a simulated lab's working directory, opened for a :class:`~sim.runner.Simulation`
before any experiment is built: the run-id counter (``last_rid.pyon``; read-only, counted on and
never written back: :class:`UnsavedRIDs`), the dataset store (read-only, an in-memory copy:
:func:`copied_store`), the lab's hold and its stored hardware state (:mod:`sim.state_file`,
:mod:`sim.lab_lock`). A store that cannot be opened is an :class:`InputError` naming it.
"""

from __future__ import annotations

import pathlib
from typing import Any

from sim.datasets import DatasetDB
from sim.experiment_file import InputError
from sim.outputs import cause
from sim.results import RIDCounter, RIDFileError

__all__ = [
    "check_rids",
    "claim_lab",
    "open_dataset_store",
    "load_stored",
    "UnsavedRIDs",
    "copied_store",
]


def check_rids(rids: RIDCounter) -> None:
    """Read the last run id before anything is built: a ``last_rid.pyon`` that holds none (or
    cannot be read) is an :class:`InputError` naming it."""
    try:
        rids.last()
    except RIDFileError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(
            "run-id file '{}' cannot be read ({})".format(rids.cache_file, cause(exc))
        ) from None


def claim_lab(store: Any, read_only: bool) -> None:
    """Hold the simulated lab of a simulation that keeps its hardware state on disk and writes
    it (:meth:`~sim.state_file.HardwareStore.claim`); another process holding it is an
    :class:`InputError`."""
    if read_only:
        return
    from sim.lab_lock import LabInUse

    try:
        store.claim()
    except LabInUse as exc:
        raise InputError(str(exc)) from None


def open_dataset_store(path: pathlib.Path | None, read_only: bool) -> DatasetDB:
    """The simulation's dataset store at ``path`` (None: in memory); read-only: an in-memory
    copy of it. Raises :class:`InputError` if it cannot be opened."""
    try:
        return copied_store(path) if read_only else DatasetDB(path)
    except Exception as exc:  # lmdb.Error: not an LMDB file, locked, ...
        raise InputError(
            "cannot open dataset store '{}': {}".format(path, " ".join(str(exc).split()))
        ) from exc


def load_stored(store: Any) -> Any:
    """The hardware state kept in ``store`` (its ``load()``); a state file that cannot be read is
    an :class:`InputError` that says how to start from a cold machine instead."""
    from sim.state_file import StateFileError

    try:
        return store.load()
    except StateFileError as exc:
        raise InputError(f"{exc}: run with --power-up to start from a cold machine") from exc


class UnsavedRIDs(RIDCounter):
    """Run ids counted on from the lab's ``last_rid.pyon``, never written back."""

    _last: int | None = None
    locked = False  # (nothing written: no lock file either)

    def last(self) -> int:
        """The last run id given out (the file's, until this counter gave one)."""
        return super().last() if self._last is None else self._last

    def _store(self, rid: int) -> None:
        """Keep ``rid`` in memory only (the file stays as it was)."""
        self._last = rid


def copied_store(path: pathlib.Path | None) -> DatasetDB:
    """An in-memory dataset store holding what the store at ``path`` holds (if it exists)."""
    store = DatasetDB(None)
    if path is not None and path.is_file():
        source = DatasetDB(path)
        try:
            store.data.update(source.data)
        finally:
            source.close_db()
    return store
