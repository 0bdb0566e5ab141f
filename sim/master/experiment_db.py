# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master's experiment list: its repository scanned as ARTIQ's master scans its
own, served as ARTIQ's ``experiment_db``.

Examining a file imports it and builds each public experiment class without running it
(:func:`sim.experiment_arguments.trace_build`), as ARTIQ's master's worker does: devices are
inert placeholders (nothing of the simulated lab is touched, no kernel runs), datasets are read
from the master's store, each argument's value in ``build`` is ``None``. The description of a
file is ``{class_name: {"name", "arginfo", "argument_ui", "scheduler_defaults"}}``: the name is
the first line of the class's docstring without its final full stop (else the class name),
``arginfo`` is ``{argument: (processor.describe(), group, tooltip)}`` in the order ``build``
requested them.

The scan walks the repository (sub-folders too, names starting with ``.`` skipped) and publishes
``explist`` (``{name: {"file", "class_name", "arginfo", "argument_ui", "scheduler_defaults"}}``,
``file`` relative to the repository, names of sub-folders' experiments prefixed ``folder/``) and
``explist_status`` (``{"scanning": bool, "cur_rev": str}``; ``"N/A"`` as ARTIQ's file-system
backend). A file that cannot be examined is skipped with one warning line. Files are imported in
the master's process, one at a time, in a thread of their own (the servers keep answering).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import pathlib
import threading
from typing import Any

__all__ = ["ExperimentDB", "ExamineError", "describe_file"]

logger = logging.getLogger(__name__)

#: The revision of a repository that is a plain folder (ARTIQ's file-system backend says so).
NO_REVISION = "N/A"


class ExamineError(Exception):
    """An experiment file that cannot be examined (one line: the file and why)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__("cannot examine '{}': {}".format(os.fspath(path), reason))
        self.reason = reason


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return type(exc).__name__ + (": " + text if text else "")


class _InertDevice:
    """What every device is while a file is examined: a placeholder ``build`` can store."""


class _ExamineDevices:
    """Device manager of an examination: the master's device database, inert devices."""

    def __init__(self, device_db: dict):
        self._device_db = device_db

    def get_device_db(self) -> dict:
        return self._device_db

    def get(self, name: str) -> _InertDevice:
        return _InertDevice()


class _ExamineDatasets:
    """Dataset manager of an examination: reads the master's store, writes nothing (an
    experiment that writes datasets in ``build`` cannot be examined, as with ARTIQ)."""

    def __init__(self, store: Any):
        self._store = store

    def get(self, key: str, archive: bool = False) -> Any:
        return self._store.get(key)

    def get_metadata(self, key: str) -> Any:
        return self._store.get_metadata(key)


def _display_name(class_name: str, cls: type) -> str:
    lines = (cls.__doc__ or "").strip().splitlines()
    if not lines:
        return class_name
    name = lines[0].strip()
    return name[:-1] if name.endswith(".") else name


def describe_file(path: str | os.PathLike, device_db: dict, datasets: Any) -> dict[str, dict]:
    """``{class_name: {"name", "arginfo", "argument_ui", "scheduler_defaults"}}`` of every
    public experiment class in ``path`` (``datasets``: a store with ``get``/``get_metadata``).

    :raises ExamineError: the file cannot be imported, a class cannot be built without devices,
        or its description is not PYON (it could not be sent to clients)."""
    from comms import pyon
    from sim.experiment_arguments import trace_build
    from sim.experiment_file import InputError, load_experiment_module

    try:
        module = load_experiment_module(path, prefix="ionlink_examine_")
    except InputError as exc:  # the import's own exception, else "not found"
        cause = exc.__cause__
        raise ExamineError(path, "not found" if cause is None else _one_line(cause)) from exc
    from artiq.language.environment import is_public_experiment  # importable once loaded

    devices, store = _ExamineDevices(device_db), _ExamineDatasets(datasets)
    description: dict[str, dict] = {}
    for class_name, cls in inspect.getmembers(module, is_public_experiment):
        try:
            trace = trace_build(cls, devices, store, defaults=False)
            arginfo = {
                key: (argument.processor.describe(), argument.group, argument.tooltip)
                for key, argument in trace.arguments.items()
            }
            entry = {
                "name": _display_name(class_name, cls),
                "arginfo": arginfo,
                "argument_ui": getattr(cls, "argument_ui", None),
                "scheduler_defaults": trace.scheduler_defaults,
            }
            pyon.encode(entry)
        except Exception as exc:
            raise ExamineError(path, "class {}: {}".format(class_name, _one_line(exc))) from exc
        description[class_name] = entry
    return description


def _unique_name(name: str, class_name: str, filename: str, explist: dict) -> str:
    """ARTIQ's naming rules: no ``/`` in a name, a repeated name gets a number."""
    if "/" in name:
        logger.warning("Character '/' is not allowed in experiment name (%s)", name)
        name = name.replace("/", "_")
    if name in explist:
        base, i = name, 1
        while name in explist:
            name = base + str(i)
            i += 1
        logger.warning(
            "Duplicate experiment name: '%s'; class '%s' in '%s' is listed as '%s'",
            base,
            class_name,
            filename,
            name,
        )
    return name


class ExperimentDB:
    """ARTIQ's ``experiment_db`` RPC target, and the ``explist``/``explist_status`` notifiers.

    :param repository: the repository folder.
    :param device_db: the device database experiments see while examined.
    :param datasets: the master's dataset store (read only here).
    :param sync_struct: the sync_struct module whose ``Notifier`` the publisher takes.
    """

    def __init__(self, repository: pathlib.Path, device_db: dict, datasets: Any, sync_struct: Any):
        self.repository = pathlib.Path(repository)
        self._device_db = device_db
        self._datasets = datasets
        self._update_from_dict = sync_struct.update_from_dict
        self.cur_rev = NO_REVISION
        self.explist = sync_struct.Notifier({})
        self.status = sync_struct.Notifier({"scanning": False, "cur_rev": self.cur_rev})
        self._scanning = False
        self._import_lock = threading.Lock()  # one file imported at a time
        self._tasks: set[asyncio.Task] = set()

    # -- examination (worker threads) -----------------------------------------------------------
    def _describe(self, path: pathlib.Path) -> dict[str, dict]:
        with self._import_lock:
            return describe_file(path, self._device_db, self._datasets)

    def _scan_folder(self, subdir: str = "") -> dict[str, dict]:
        explist: dict[str, dict] = {}
        folder = self.repository / subdir
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            filename = os.path.join(subdir, entry.name)
            if entry.is_file() and entry.name.endswith(".py"):
                try:
                    description = self._describe(self.repository / filename)
                except ExamineError as exc:
                    logger.warning("Skipping file '%s': %s", filename, exc.reason)
                    logger.debug("why '%s' was skipped", filename, exc_info=True)
                    continue
                for class_name, desc in description.items():
                    name = _unique_name(desc["name"], class_name, filename, explist)
                    explist[name] = {
                        "file": filename,
                        "class_name": class_name,
                        "arginfo": desc["arginfo"],
                        "argument_ui": desc["argument_ui"],
                        "scheduler_defaults": desc["scheduler_defaults"],
                    }
            elif entry.is_dir():
                for name, value in self._scan_folder(filename).items():
                    explist[entry.name + "/" + name] = value
        return explist

    # -- RPC --------------------------------------------------------------------------------------
    async def scan_repository(self, new_cur_rev: str | None = None) -> None:
        """Examine every experiment file of the repository and publish the list (a scan asked
        for while one runs does nothing)."""
        if self._scanning:
            return
        self._scanning = True
        self.status["scanning"] = True
        try:
            self.cur_rev = NO_REVISION if new_cur_rev is None else new_cur_rev
            self.status["cur_rev"] = self.cur_rev
            loop = asyncio.get_running_loop()
            explist = await loop.run_in_executor(None, self._scan_folder)
            self._update_from_dict(self.explist, explist)
            logger.info("repository scan: %d experiments", len(explist))
        finally:
            self._scanning = False
            self.status["scanning"] = False

    def scan_repository_async(self, new_cur_rev: str | None = None) -> None:
        """Start :meth:`scan_repository` and return at once (what the dashboard calls)."""
        task = asyncio.get_running_loop().create_task(self.scan_repository(new_cur_rev))
        self._tasks.add(task)
        task.add_done_callback(self._scan_done)

    def _scan_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("repository scan failed: %s", task.exception())

    async def examine(
        self, filename: str, use_repository: bool = True, revision: str | None = None
    ) -> dict[str, dict]:
        """The description of one file (``{class_name: {"name", "arginfo", "argument_ui",
        "scheduler_defaults"}}``); ``filename`` relative to the repository if
        ``use_repository``, else a path on the master's host.

        :raises ExamineError: the file cannot be examined."""
        path = self.repository / filename if use_repository else pathlib.Path(filename)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._describe, path)

    def list_directory(self, directory: str) -> list[str]:
        """The entries of ``directory`` on the master's host (folders end with the separator;
        ``""``: the root), for the dashboard's "open file outside repository"."""
        prefix = ""
        if not directory:
            directory = prefix = os.path.sep if os.name != "nt" else "C:\\"
        return [
            prefix + e.name + (os.path.sep if e.is_dir() else "") for e in os.scandir(directory)
        ]

    def root(self) -> str:
        """The repository's absolute path."""
        return str(self.repository.resolve())

    async def stop(self) -> None:
        """Wait for a scan under way."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))
