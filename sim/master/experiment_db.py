# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master's experiment list: its repository scanned as ARTIQ's master scans its
own, served as ARTIQ's ``experiment_db``. Files are examined in a child process
(:mod:`sim.master.examine`) with the master's device database and a snapshot of its datasets.

The scan walks the repository (sub-folders too, names starting with ``.`` skipped) and publishes
``explist`` (``{name: {"file", "class_name", "arginfo", "argument_ui", "scheduler_defaults"}}``,
``file`` relative to the repository, names of sub-folders' experiments prefixed ``folder/``) and
``explist_status`` (``{"scanning": bool, "cur_rev": str}``; ``"N/A"`` as ARTIQ's file-system
backend). A file that cannot be examined is skipped with one warning line. The examining runs in
an executor thread (the servers keep answering), one scan or examination at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import threading
from typing import Any

from sim.master.examine import ExamineError, examine_files

__all__ = ["ExperimentDB"]

logger = logging.getLogger(__name__)

#: The revision of a repository that is a plain folder (ARTIQ's file-system backend says so).
NO_REVISION = "N/A"


def _list_name(name: str, class_name: str, filename: str, explist: dict, prefix: str) -> str:
    """The explist key of a class, ARTIQ's rules: ``prefix`` (its sub-folders, ``a/b/``), no
    ``/`` in a name, a name repeated within a folder gets a number."""
    if "/" in name:
        logger.warning("Character '/' is not allowed in experiment name (%s)", name)
        name = name.replace("/", "_")
    base, i = name, 1
    while prefix + name in explist:
        name = base + str(i)
        i += 1
    if name != base:
        logger.warning(
            "Duplicate experiment name: '%s'; class '%s' in '%s' is listed as '%s'",
            base,
            class_name,
            filename,
            name,
        )
    return prefix + name


class ExperimentDB:
    """ARTIQ's ``experiment_db`` RPC target, and the ``explist``/``explist_status`` notifiers.

    :param repository: the repository folder.
    :param device_db: the device database experiments see while examined.
    :param datasets: the master's dataset store (its ``snapshot()`` is what ``build`` reads).
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
        self._examining = threading.Lock()  # one scan or examination at a time
        self._tasks: set[asyncio.Task] = set()

    # -- examination (executor threads) --------------------------------------------------------
    def _examine(self, paths: list[pathlib.Path]) -> list[tuple[str, dict | ExamineError]]:
        with self._examining:
            return list(examine_files(paths, self._device_db, self._datasets.snapshot()))

    def _python_files(self, subdir: str = "") -> list[str]:
        """The repository's ``.py`` files (relative), sub-folders after each folder's files
        in name order; names starting with ``.`` skipped."""
        files: list[str] = []
        entries = sorted(os.scandir(self.repository / subdir), key=lambda e: e.name)
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_file() and entry.name.endswith(".py"):
                files.append(os.path.join(subdir, entry.name))
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_dir():
                files.extend(self._python_files(os.path.join(subdir, entry.name)))
        return files

    def _scan(self) -> dict[str, dict]:
        files = self._python_files()
        examined = self._examine([self.repository / f for f in files])
        explist: dict[str, dict] = {}
        for filename, (_, description) in zip(files, examined):
            if isinstance(description, ExamineError):
                logger.warning("Skipping file '%s': %s", filename, description.reason)
                continue
            folder = pathlib.PurePath(filename).parent.parts
            prefix = "".join(part + "/" for part in folder)
            for class_name, desc in description.items():
                name = _list_name(desc["name"], class_name, filename, explist, prefix)
                explist[name] = {
                    "file": filename,
                    "class_name": class_name,
                    "arginfo": desc["arginfo"],
                    "argument_ui": desc["argument_ui"],
                    "scheduler_defaults": desc["scheduler_defaults"],
                }
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
            explist = await loop.run_in_executor(None, self._scan)
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
        [(_, description)] = await loop.run_in_executor(None, self._examine, [path])
        if isinstance(description, ExamineError):
            raise description
        return description

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
