# SPDX-License-Identifier: LGPL-3.0-or-later
"""One simulated lab, one process at a time.

A Kasli runs one kernel at a time and a lab's master runs one experiment at a time, so two
``ionlink-sim`` processes driving the same simulated hardware (the same hardware-state file:
the same device database and lab, next to the same dataset store) would each start from the same
stored state, both claim the same RTIO timeline, and the later to finish would overwrite the
other's state. :class:`LabLock` takes an exclusive, non-blocking lock on ``<state file>.lock``
for the life of a :class:`~sim.runner.Simulation`; a second process gets :class:`LabInUse`
naming the holder. The operating system drops the lock when its process ends, however it ends
(a crash or ``kill -9`` leaves no stale lock).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import sys
from collections.abc import Iterator
from typing import IO

__all__ = ["LabInUse", "LabLock", "held_briefly"]


class LabInUse(Exception):
    """Another process holds the simulated lab."""


class LabLock:
    """The exclusive claim on the simulated lab whose hardware state is kept in ``state_path``."""

    def __init__(self, state_path: pathlib.Path) -> None:
        self.path = state_path.with_name(state_path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, writing this process's id and the time into the lock file.

        :raises LabInUse: another process holds it (the message names its pid and start).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")
        try:
            _lock(f)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise LabInUse(
                "the simulated lab is in use by {} (lock {}): one core device runs one "
                "experiment at a time; wait for that run to end or stop it".format(
                    holder, self.path
                )
            ) from None
        f.seek(0)
        f.truncate()
        f.write(
            "pid {} ({}) since {}".format(
                os.getpid(),
                os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
                datetime.datetime.now().isoformat(timespec="seconds"),
            )
        )
        f.flush()
        self._file = f

    def release(self) -> None:
        """Give the lab back (idempotent)."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            f.seek(0)
            f.truncate()
            _unlock(f)
        finally:
            f.close()


@contextlib.contextmanager
def held_briefly(path: pathlib.Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing) for a short read-modify-write that
    two processes must not interleave (the run-id counter); waits while another holds it."""
    with open(path, "a+", encoding="utf-8") as f:
        _lock(f, block=True)
        try:
            yield
        finally:
            _unlock(f)


def _lock(f: IO[str], block: bool = False) -> None:
    """Exclusive lock of ``f``; non-blocking (OSError if held elsewhere) unless ``block``."""
    if os.name == "nt":
        import msvcrt

        f.seek(0)
        mode = msvcrt.LK_LOCK if block else msvcrt.LK_NBLCK  # type: ignore[attr-defined]
        msvcrt.locking(f.fileno(), mode, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))


def _unlock(f: IO[str]) -> None:
    if os.name == "nt":
        import msvcrt

        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
