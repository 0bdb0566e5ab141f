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

__all__ = [
    "parse_time",
    "find_runs",
    "not_named_as_results",
    "atomic_write_text",
    "staged_outputs",
    "names_folder",
    "report_path",
    "report_stem",
]

#: suffixes of a report path that name the report file itself (replaced by each format's)
REPORT_SUFFIXES = (".md", ".html")


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


def not_named_as_results(root: str | os.PathLike[str]) -> list[Path]:
    """The ``.h5`` files under ``root`` that :func:`find_runs` does not take, their names not
    being ARTIQ's ``{rid:09d}-{Class}.h5`` (a renamed or copied file, another program's)."""
    return sorted(p for p in Path(root).rglob("*.h5") if not RESULTS_FILE_NAME.match(p.name))


def names_folder(output: str) -> bool:
    """Whether an output argument names a folder to write into: it ends in a path separator
    (``rep/``), or is an existing folder."""
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    return output.endswith(seps) or Path(output).is_dir()


def report_path(output: str, default: Path, *, several: bool, folder: bool) -> Path:
    """Where a report goes for ``-o output`` (its Markdown, HTML and PNGs share this path's
    stem); ``default``: its path without ``-o``, named after its results file(s).

    ``folder`` (``output`` names one, :func:`names_folder`): inside it, named as ``default``.
    Else one report: ``output`` itself; several: ``output`` as their folder, or, when it ends in
    ``.md``/``.html``, as their name prefix (``NAME-``)."""
    out = Path(output)
    if folder or (several and out.suffix not in REPORT_SUFFIXES):
        return out / default.name
    return out.with_name(f"{out.stem}-{default.name}") if several else out


def report_stem(output: str | os.PathLike[str]) -> tuple[Path, str]:
    """(folder, stem) of a report path: ``rep/run7.md`` and ``rep/run7`` give ``(rep, run7)``.

    :raises IsADirectoryError: ``output`` names a folder (:func:`names_folder`): a report
        written there would land beside it, as ``<folder>.md``."""
    if names_folder(os.fspath(output)):
        raise IsADirectoryError(
            f"{os.fspath(output)} is a folder; a report path names its file (e.g. "
            f"{Path(output) / 'report.md'})"
        )
    out = Path(output)
    stem = out.stem if out.suffix in REPORT_SUFFIXES else out.name
    return (out.parent if str(out.parent) else Path(".")), stem


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
