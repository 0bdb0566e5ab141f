# SPDX-License-Identifier: LGPL-3.0-or-later
"""Reading archives in parallel: the executor of ``ionlink-analyze --jobs/--scheduler`` and an
ordered map with a bounded number of tasks in flight.

A folder of thousands of results files is read file by file by independent tasks (loading each
file's catalogue, one summary per run): on the Dask cluster at ``--scheduler ADDRESS`` (its
``concurrent.futures`` executor), else on a local process pool of ``--jobs`` processes (default:
one per core; ``--jobs 1`` reads in this process). At most ``window`` tasks are submitted ahead of
the one whose result comes next, so memory holds ``window`` results however many files there are.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["InlineExecutor", "archive_executor", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


class InlineExecutor(Executor):
    """Runs each task at submission, in this process (``--jobs 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@contextmanager
def archive_executor(scheduler: str | None = None, jobs: int | None = None) -> Iterator[Executor]:
    """The executor for reading an archive: the Dask cluster at ``scheduler``, else a process pool
    of ``jobs`` processes (default one per core), else (``jobs == 1``) this process."""
    if scheduler:
        from distributed import Client

        with Client(scheduler, timeout=10) as client:
            yield client.get_executor(pure=False)
        return
    n = jobs or os.cpu_count() or 1
    if n <= 1:
        yield InlineExecutor()
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield pool


def ordered_map(
    executor: Executor, fn: Callable[[T], R], items: Iterable[T], *, window: int = 64
) -> Iterator[R]:
    """``fn(item)`` for every item, in order, with at most ``window`` tasks in flight; a task's
    exception is raised when its result is reached."""
    pending: deque[Future] = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
