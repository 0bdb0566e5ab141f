# SPDX-License-Identifier: LGPL-3.0-or-later
"""Files an analysis leaves out: a result that could not be made (:class:`Unusable`, made in
whichever process read the file), a pool of runs without the files whose own records are missing
or inconsistent (:func:`pool_usable`), and which files a command may leave out, each with one
note (:class:`Skips`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import AnalysisError, DataError, MissingDataError, SchemaError

__all__ = ["PoolRefused", "Skips", "Unusable", "alone", "or_unusable", "pool_usable"]


class PoolRefused(SchemaError):
    """Runs that must not be pooled (a :class:`SchemaError` of a pool of several files: a repeat,
    calibrated with uncalibrated, runs of other labs): the pool is refused, whichever file the
    error names; never one file left out (the pool's other files would go unmentioned)."""


@dataclass(frozen=True)
class Unusable:
    """A result that could not be made: the error naming its file."""

    error: AnalysisError


def or_unusable(make: Callable[[Any], Any], item: Any) -> Any:
    """``make(item)``, or :class:`Unusable` holding the :class:`AnalysisError` it raised (in
    whichever process runs it)."""
    try:
        return make(item)
    except AnalysisError as e:
        return Unusable(e)


def pool_usable(
    summarise: Callable[[list[Path]], Any], paths: Sequence[Path], droppable: frozenset[str]
) -> tuple[Any, list[AnalysisError]]:
    """``(summarise(paths), [])``, or pooled over fewer files when a ``droppable`` one's own
    records are missing or inconsistent (:class:`DataError`, :class:`MissingDataError` naming it
    alone): ``(result, [errors of the files left out])``, each also among the result's
    ``notes`` (a report then says what its pool lacks); ``(None, [every file's error])`` when
    none is left. Runs that must not be combined (:class:`SchemaError` of several files:
    repeats, calibrated with uncalibrated) raise :class:`PoolRefused`."""
    left = list(paths)
    out: list[AnalysisError] = []
    while left:
        try:
            result = summarise(left)
        except (DataError, MissingDataError) as e:
            if e.path not in droppable or e.path not in map(str, left):
                raise
            out.append(e)
            left = [q for q in left if str(q) != e.path]
            continue
        except SchemaError as e:
            if len(left) < 2 or isinstance(e, PoolRefused):
                raise
            raise PoolRefused(e.path, e.problem) from e
        result.notes.extend(f"left out {e}" for e in out)
        return result, out
    return None, out


def alone(make: Callable[[], Any]) -> tuple[Any, list[AnalysisError]]:
    """``(make(), [])``: a result of one file, as :func:`pool_usable` gives a pool's."""
    return make(), []


@dataclass
class Skips:
    """Files a command may leave out, each with one note (``note_line``), analysing the others:
    with ``--per-run`` (``every_file``) every file; else, if ``from_folders``, those found in
    folders (``in_folders``, set as the command expands its paths). ``errors``: why each file was
    left out."""

    note_line: Callable[[str], None]
    every_file: bool
    from_folders: bool = True
    in_folders: frozenset[str] = frozenset()
    errors: list[AnalysisError] = field(default_factory=list)

    def allows(self, error: AnalysisError) -> bool:
        """Whether the file ``error`` names may be left out (not a refused pool's)."""
        if isinstance(error, PoolRefused):
            return False
        return self.every_file or error.path in self.in_folders

    def usable(self, paths: Sequence[str], made: Sequence[Any]) -> list[Any]:
        """The results of ``made`` (``(result, left out)`` or :class:`Unusable`), ``None`` for
        each left out; raises the error of one that may not be left out, and when none is left
        (``paths``: the command's, named then)."""
        out: list[Any] = []
        failed: list[AnalysisError] = []
        for m in made:
            if isinstance(m, Unusable):
                if not self.allows(m.error):
                    raise m.error
                failed.append(m.error)
                out.append(None)
            else:  # (result, errors of the files left out); result None: none was left
                out.append(m[0])
                failed += m[1]
        if all(r is None for r in out) and len(failed) == 1 and not self.errors:
            raise failed[0]  # the one file there was: its error, as without skipping
        self.note(failed)
        if all(r is None for r in out):
            raise AnalysisError(", ".join(paths), "no usable runs (each skipped: see the notes)")
        return out

    def note(self, errors: list[AnalysisError]) -> None:
        """Note each of ``errors``' files as left out."""
        for e in errors:
            self.note_line(f"skipped {e}")
        self.errors += errors
