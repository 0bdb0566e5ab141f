# SPDX-License-Identifier: LGPL-3.0-or-later
"""Everything a simulation will write, created or checked before anything runs.

A run that finds out at its end that it cannot write its results loses what it measured.
:func:`prepare_outputs` takes the list of a simulation's output paths (results folder, dataset
store, run-id file, VCD file, ...), creates the folders they need and checks that each can be
written (a folder on a full disk cannot); the first problem raises :class:`OutputPathError` with
one line naming the path. A disk that fills up during a run is met when the files are written:
:class:`NotSaved` says in one line what could not be saved where, and why (:func:`cause`).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = [
    "OutputPath",
    "OutputPathError",
    "NotSaved",
    "Saved",
    "prepare_outputs",
    "LMDB_ROOM",
    "write_with_fallback",
    "fallback_folders",
    "free_name",
    "not_saved_message",
    "cause",
    "disk_full",
]


#: room a dataset store needs free: LMDB maps its lock file (8 KiB) and a page it cannot get
#: there kills the process (SIGBUS, seen on a full tmpfs), and a save adds pages
LMDB_ROOM = 64 * 1024


class OutputPathError(Exception):
    """An output path cannot be created or written (one-line message naming the path)."""


class NotSaved(Exception):
    """Something a run made could not be written where asked (one-line message naming the path
    and the cause, and where it went instead if it went anywhere)."""


def disk_full(exc: BaseException) -> bool:
    """``exc`` says the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def cause(exc: BaseException) -> str:
    """What went wrong, for a one-line message: the system's words for an ``OSError``
    (``No space left on device``), else the exception's own text."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _full(folder: Path, room: int) -> bool:
    """Less than ``room`` bytes free on the disk of ``folder`` (``statvfs``; root may use the
    reserve)."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # (no statvfs on Windows)
        return False
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return st.f_blocks > 0 and free * st.f_frsize < room


@dataclass(frozen=True)
class OutputPath:
    """One path a simulation writes.

    :param path: the folder or file.
    :param what: what it is, for messages (``"results folder"``, ``"VCD file"``, ...).
    :param folder: ``True`` if ``path`` is a folder (created), else a file (its folder is
        created; the file itself is written later, by replacing it).
    :param room: bytes that must be free on its disk (else it is full; default: any).
    """

    path: Path
    what: str
    folder: bool = False
    room: int = 1


def prepare_outputs(outputs: Iterable[OutputPath]) -> None:
    """Create the folders of ``outputs`` and check that every path can be written.

    :raises OutputPathError: ``<what> '<path>' ...: <problem>`` for the first path that cannot.
    """
    for out in outputs:
        try:
            _prepare(out)
        except OSError as exc:  # (a name too long, a path the system refuses to look at)
            raise OutputPathError("{} '{}': {}".format(out.what, out.path, cause(exc))) from None


def _prepare(out: OutputPath) -> None:
    """:func:`prepare_outputs` of one path."""
    path = Path(out.path)
    folder = path if out.folder else path.parent
    if out.folder and path.exists() and not path.is_dir():
        raise OutputPathError("{} '{}' is a file, not a folder".format(out.what, path))
    if not out.folder and path.is_dir():
        raise OutputPathError("{} '{}' is a folder, not a file".format(out.what, path))
    existing = next((p for p in (folder, *folder.parents) if p.is_dir()), None)
    if existing is not None and _full(existing, out.room):  # (before making folders there)
        raise OutputPathError(
            "{} '{}' is on a full disk ({}{})".format(
                out.what,
                path,
                os.strerror(errno.ENOSPC),
                "" if out.room <= 1 else ": it needs {} KiB free".format(out.room // 1024),
            )
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
        )
        problem = (
            "'{}' is a file".format(blocking) if blocking is not None else exc.strerror or str(exc)
        )
        raise OutputPathError(
            "cannot create {}{} '{}': {}".format(
                "" if out.folder else "the folder of ", out.what, path, problem
            )
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError("{} '{}': folder '{}' is not writable".format(out.what, path, folder))
    if not out.folder and path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError("{} '{}' is not writable".format(out.what, path))
    _probe(out, folder)


def _probe(out: OutputPath, folder: Path) -> None:
    """Create and remove a file in ``folder``: permissions alone do not say that a file can be
    made there (root may write anywhere, yet not in ``/proc``)."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".ionlink-probe-", dir=folder)
    except OSError as exc:
        raise OutputPathError(
            "{} '{}': cannot create a file in folder '{}': {}".format(
                out.what, out.path, folder, cause(exc)
            )
        ) from None
    os.close(fd)
    os.unlink(name)


@dataclass(frozen=True)
class Saved:
    """Where :func:`write_with_fallback` wrote a file.

    :param path: the file written (``None``: none could be).
    :param asked: the path it was asked to write.
    :param error: why it is not at ``asked`` (``None``: it is).
    :param tried: the fallback paths tried in vain, in order, with why each failed.
    """

    path: Path | None
    asked: Path
    error: OSError | None = None
    tried: tuple[tuple[Path, OSError], ...] = ()


def fallback_folders() -> list[Path]:
    """Where a file goes when its own folder cannot take it: the working directory, then the
    system's temporary folder (``$TMPDIR``, ...)."""
    import tempfile

    folders = []
    try:
        folders.append(Path.cwd())
    except OSError:  # (the working directory was removed)
        pass
    folders.append(Path(tempfile.gettempdir()))
    return folders


def write_with_fallback(
    asked: Path,
    write: Callable[[Path], None],
    fallback_dirs: Sequence[Path],
    error: OSError | None = None,
) -> Saved:
    """``write(asked)``; if that raises ``OSError`` (a full disk, a folder gone read-only),
    ``write`` the same name into the first of ``fallback_dirs`` that takes it (an existing file
    there is not replaced: a ``-N`` suffix is added). ``write`` must leave nothing behind when it
    fails. ``error``: writing at ``asked`` already failed so (go straight to the fallbacks)."""
    if error is None:
        try:
            write(asked)
        except OSError as exc:
            error = exc
        else:
            return Saved(asked, asked)
    tried: list[tuple[Path, OSError]] = []
    seen = {asked.parent.resolve()}
    for folder in fallback_dirs:
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        target = free_name(folder / asked.name)
        try:
            write(target)
        except OSError as exc:
            tried.append((target, exc))
            continue
        return Saved(target, asked, error, tuple(tried))
    return Saved(None, asked, error, tuple(tried))


def free_name(path: Path) -> Path:
    """``path``, or ``stem-N.suffix`` for the first ``N`` not taken."""
    n = 0
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name("{}-{}{}".format(path.stem, n, path.suffix))
    return candidate


def not_saved_message(place: str, thing: str, saved: Saved) -> str:
    """One line for a file not written where asked, e.g. ``results folder /x is full (No space
    left on device): the results were written to /y instead``. ``place``: ``"results folder
    /x"``; ``thing``: ``"the results were"``. Empty if the file is where asked."""
    error = saved.error
    if error is None:
        return ""
    problem = "{} {} ({})".format(
        place, "is full" if disk_full(error) else "cannot be written", cause(error)
    )
    if saved.path is not None:
        return "{}: {} written to {} instead".format(problem, thing, saved.path)
    elsewhere = "; ".join("{}: {}".format(p.parent, cause(e)) for p, e in saved.tried)
    return "{}, and no other folder could take them ({}): {} not saved".format(
        problem, elsewhere or "none to try", thing
    )
