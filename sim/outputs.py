# SPDX-License-Identifier: LGPL-3.0-or-later
"""Everything a simulation will write, created or checked before anything runs.

A run that finds out at its end that it cannot write its results loses what it measured.
:func:`prepare_outputs` takes the list of a simulation's output paths (results folder, dataset
store, run-id file, VCD file, ...), creates the folders they need and checks that each can be
written; the first problem raises :class:`OutputPathError` with one line naming the path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = ["OutputPath", "OutputPathError", "prepare_outputs"]


class OutputPathError(Exception):
    """An output path cannot be created or written (one-line message naming the path)."""


@dataclass(frozen=True)
class OutputPath:
    """One path a simulation writes.

    :param path: the folder or file.
    :param what: what it is, for messages (``"results folder"``, ``"VCD file"``, ...).
    :param folder: ``True`` if ``path`` is a folder (created), else a file (its folder is
        created; the file itself is written later, by replacing it).
    """

    path: Path
    what: str
    folder: bool = False


def prepare_outputs(outputs: Iterable[OutputPath]) -> None:
    """Create the folders of ``outputs`` and check that every path can be written.

    :raises OutputPathError: ``<what> '<path>' ...: <problem>`` for the first path that cannot.
    """
    for out in outputs:
        path = Path(out.path)
        folder = path if out.folder else path.parent
        if out.folder and path.exists() and not path.is_dir():
            raise OutputPathError("{} '{}' is a file, not a folder".format(out.what, path))
        if not out.folder and path.is_dir():
            raise OutputPathError("{} '{}' is a folder, not a file".format(out.what, path))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            blocking = next(
                (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
            )
            problem = (
                "'{}' is a file".format(blocking)
                if blocking is not None
                else exc.strerror or str(exc)
            )
            raise OutputPathError(
                "cannot create {}{} '{}': {}".format(
                    "" if out.folder else "the folder of ", out.what, path, problem
                )
            ) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputPathError(
                "{} '{}': folder '{}' is not writable".format(out.what, path, folder)
            )
        if not out.folder and path.exists() and not os.access(path, os.W_OK):
            raise OutputPathError("{} '{}' is not writable".format(out.what, path))
