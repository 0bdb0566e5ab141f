# SPDX-License-Identifier: LGPL-3.0-or-later
"""Results folders and report outputs: which results files a folder holds (by rid, date and hour,
class), and writing report files so that none is ever left half-written."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .io import RESULTS_FILE_NAME

__all__ = ["parse_time", "find_runs", "atomic_write_text", "staged_outputs"]


def parse_time(s: str) -> _dt.datetime:
    """Parse ``YYYY-MM-DD``, ``YYYY-MM-DDTHH`` or any ISO-8601 date-time (local time)."""
    s = s.strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[T ](\d{1,2})", s)
    if m:
        return _dt.datetime.fromisoformat(m.group(1)).replace(hour=int(m.group(2)))
    return _dt.datetime.fromisoformat(s)


def find_runs(
    root: str | os.PathLike[str],
    *,
    rid: int | Iterable[int] | None = None,
    since: _dt.datetime | None = None,
    until: _dt.datetime | None = None,
    experiment_class: str | None = None,
) -> list[Path]:
    """Results files under ``root`` laid out as ``YYYY-MM-DD/HH/{rid:09d}-{Class}.h5`` (``root``
    itself if it is such a file and matches).

    :param rid: one rid or several
    :param since: keep hour directories starting at or after this hour (local time)
    :param until: keep hour directories starting at or before this time
    :param experiment_class: keep this experiment class name (from the file name)
    :return: paths sorted by date, hour and rid
    """
    rids = (
        None
        if rid is None
        else ({int(rid)} if isinstance(rid, (int, np.integer)) else {int(r) for r in rid})
    )
    lo = None if since is None else since.replace(minute=0, second=0, microsecond=0)
    found = []
    top = Path(root)
    for p in [top] if top.is_file() else top.rglob("*.h5"):
        m = RESULTS_FILE_NAME.match(p.name)
        if not m:
            continue
        try:
            when = _dt.datetime.fromisoformat(p.parent.parent.name).replace(hour=int(p.parent.name))
        except ValueError:
            when = None
        if (lo or until) and when is None:
            continue
        if rids is not None and int(m.group(1)) not in rids:
            continue
        if experiment_class is not None and m.group(2) != experiment_class:
            continue
        if lo is not None and when < lo:  # type: ignore[operator]
            continue
        if until is not None and when > until:  # type: ignore[operator]
            continue
        found.append((when or _dt.datetime.min, int(m.group(1)), p))
    return [p for _, _, p in sorted(found)]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename (never half-written)."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def staged_outputs(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Directory to write a set of outputs into; they are moved into ``out_dir`` only on success.

    On an exception the staging directory is removed and ``out_dir`` is left untouched.
    """
    out = Path(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=".ionlink-report.", dir=out))
    try:
        yield stage
        files = sorted(stage.iterdir(), key=lambda q: q.suffix in (".md", ".html"))  # reports last
        for q in files:
            os.replace(q, out / q.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
