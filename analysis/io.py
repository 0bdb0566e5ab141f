# SPDX-License-Identifier: LGPL-3.0-or-later
"""Reading ARTIQ results files (ARTIQ 5–9), finding them, chunked reads and atomic writes.

Every read of a results file goes through :class:`Run` (other modules never open HDF5 files);
reports are written through :func:`staged_outputs`. A results file
has root datasets ``artiq_version``, ``rid``, ``start_time``, ``run_time``, ``expid``
(PYON v1 or v2, bytes or str) and groups ``datasets/`` and ``archive/`` whose datasets may
carry ``unit``/``scale``/``precision`` attributes (the display metadata ARTIQ keeps with a
dataset, stored as HDF5 attributes). Files from
labs that never used ionlink load too; :func:`require` says which datasets an estimator
needs and which are missing. Which loaded runs may be pooled is :mod:`analysis.pooling`.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from comms import pyon
from drivers.analysis_settings import GATE_SCHEMA_VERSION, SCHEMA_VERSION

from .mapped import contiguous_extent, map_rows, mapped_windows

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "AnalysisError",
    "DataError",
    "DatasetInfo",
    "FileFormatError",
    "MissingDataError",
    "Run",
    "SchemaError",
    "decode_pyon",
    "kind_problem",
    "load",
    "require",
]

#: Rows per chunk for per-herald arrays and photon tags (2**20 rows = 8 MiB of int64).
DEFAULT_CHUNK_ROWS = 1 << 20
#: Rows per slice of a mapped dataset (2**17 rows = 1 MiB of int64, a core's L2 cache here:
#: the photon-tag histogram's three passes over a slice then read it from the cache)
MAPPED_SLICE_ROWS = 1 << 17
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_META_ATTRS = ("unit", "scale", "precision")
_SMALL = 64  # datasets up to this many elements are read eagerly by load()
#: name of an ARTIQ results file: ``{rid:09d}-{Class}.h5``
RESULTS_FILE_NAME = re.compile(r"^(\d+)-(.+)\.h5$")


class AnalysisError(Exception):
    """A problem with an input file, reported in one line as ``<file>: <problem>``."""

    def __init__(self, path: str | os.PathLike[str] | Sequence[Any], problem: str) -> None:
        if isinstance(path, (list, tuple)):
            path = ", ".join(str(p) for p in path)
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        # raised in a worker process of a parallel read: rebuilt from both arguments
        return (type(self), (self.path, self.problem))


class FileFormatError(AnalysisError):
    """Not a readable HDF5 file (missing, not HDF5, corrupt or truncated)."""


class SchemaError(AnalysisError):
    """Not an ARTIQ/ionlink results file of the expected kind, or runs that cannot be combined."""


class MissingDataError(AnalysisError):
    """Datasets an estimator needs are absent."""


class DataError(AnalysisError):
    """Datasets are present but unusable: empty, NaN, shape mismatch, zero heralds."""


def decode_pyon(s: str | bytes) -> Any:
    """Decode PYON v2 (JSON) or v1 (Python literal) with :mod:`comms.pyon`, leniently:
    text it refuses (e.g. an unknown ``__jsonclass__``) is read as plain JSON or a Python literal.

    :raises ValueError: if the text is neither
    """
    if isinstance(s, bytes):
        s = s.decode("utf-8")

    try:
        return pyon.decode(s)
    except Exception:  # noqa: BLE001 - fall back to the simple decoders below
        pass
    try:
        return json.loads(s)
    except ValueError:
        pass
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError) as e:
        raise ValueError(f"not PYON: {s[:60]!r}") from e


@dataclass(frozen=True)
class DatasetInfo:
    """Shape, dtype and ARTIQ metadata (``unit``, ``scale``, ``precision``) of one dataset."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    attrs: dict[str, Any] = field(default_factory=dict)


def _decode_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in ("S", "O"):
        return np.array(
            [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v.ravel()],
            dtype=object,
        ).reshape(v.shape)
    if isinstance(v, np.generic):
        return v.item()
    return v


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    """Open an HDF5 file read-only, turning low-level failures into :class:`FileFormatError`."""
    import h5py

    if not path.exists():
        raise FileFormatError(path, "no such file")
    if path.is_dir():
        raise FileFormatError(path, "is a directory, not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
        except OSError:
            head = b""
        if head != _HDF5_SIGNATURE:
            raise FileFormatError(path, "not an HDF5 file") from e
        raise FileFormatError(path, f"corrupt or truncated HDF5 file ({_short(e)})") from e
    try:
        yield f
    except (OSError, RuntimeError, KeyError) as e:
        if isinstance(e, AnalysisError):
            raise
        raise FileFormatError(path, f"corrupt or truncated HDF5 file ({_short(e)})") from e
    finally:
        with contextlib.suppress(Exception):
            f.close()


def _short(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:160]


@dataclass(frozen=True)
class Run:
    """One ARTIQ results file: root metadata, dataset catalogue and small values.

    Large arrays stay on disk; read them with :meth:`read` or :meth:`iter_chunks`.

    :param values: datasets of up to 64 elements, read at load time (strings decoded)
    """

    path: Path
    artiq_version: str | None
    rid: int | None
    start_time: float | None
    run_time: float | None
    expid: Any
    datasets: dict[str, DatasetInfo]
    archive: dict[str, DatasetInfo]
    values: dict[str, Any] = field(repr=False)

    @property
    def schema_version(self) -> int | None:
        """ionlink ``schema_version`` dataset, or ``None`` for foreign files."""
        v = self.values.get("schema_version")
        return None if v is None else int(v)

    @property
    def experiment(self) -> str | None:
        """ionlink experiment kind (``ionlink.experiment``), or ``None``."""
        v = self.values.get("ionlink.experiment")
        return None if v is None else str(v)

    @property
    def experiment_class(self) -> str | None:
        """Experiment class name from ``expid`` (or from the file name)."""
        if isinstance(self.expid, dict) and self.expid.get("class_name"):
            return str(self.expid["class_name"])
        m = RESULTS_FILE_NAME.match(self.path.name)
        return m.group(2) if m else None

    def __contains__(self, key: str) -> bool:
        return key in self.datasets

    def __getitem__(self, key: str) -> Any:
        """Value of a dataset in ``datasets/`` (read from disk if large)."""
        if key in self.values:
            return self.values[key]
        return self.read(key)

    def read(self, key: str, group: str = "datasets") -> Any:
        """Read a whole dataset (strings decoded to ``str``).

        :raises MissingDataError: if the dataset is absent
        """
        cat = self.datasets if group == "datasets" else self.archive
        if key not in cat:
            raise MissingDataError(self.path, f"no dataset '{group}/{key}'")
        with _open(self.path) as f:
            return _decode_value(f[group][key][()])

    def iter_chunks(
        self,
        keys: Sequence[str],
        *,
        rows: int = DEFAULT_CHUNK_ROWS,
        progress: bool = False,
        desc: str = "",
    ) -> Iterator[dict[str, np.ndarray]]:
        """Yield dicts of row slices of datasets that share their first dimension.

        At most ``rows`` rows of each dataset are in memory at once. A dataset stored as one
        contiguous block (as ARTIQ writes them) is mapped from the file (:mod:`analysis.mapped`),
        any other read through HDF5; the caller may write into a slice (it never reaches the file).

        :raises MissingDataError: if a key is absent
        :raises DataError: if the first dimensions differ
        """
        missing = [k for k in keys if k not in self.datasets]
        if missing:
            raise MissingDataError(self.path, f"missing dataset(s): {', '.join(missing)}")
        lengths = {k: (self.datasets[k].shape or (1,))[0] for k in keys}
        if len(set(lengths.values())) > 1:
            desc_l = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise DataError(
                self.path, f"shape mismatch: per-herald arrays differ in length ({desc_l} rows)"
            )
        n = next(iter(lengths.values()), 0)
        with (
            _open(self.path) as f,
            open(self.path, "rb") as fh,
            _progress(n, desc or self.path.name, progress) as bar,
        ):
            ds = {k: f["datasets"][k] for k in keys}
            extents = {k: contiguous_extent(d) for k, d in ds.items()}
            for i in range(0, n, rows):
                j = min(n, i + rows)
                chunk = {}
                for k, d in ds.items():
                    extent = extents[k]
                    chunk[k] = d[i:j] if extent is None else map_rows(fh.fileno(), extent, i, j)
                yield chunk
                bar.update(j - i)

    def iter_array(
        self,
        key: str,
        *,
        rows: int = DEFAULT_CHUNK_ROWS,
        progress: bool = False,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield consecutive slices of rows ``[start, stop)`` (default: all) of one 1-D
        dataset, at most ``rows`` rows each.

        A dataset stored as one contiguous block (as ARTIQ writes them) is mapped from the file
        (:mod:`analysis.mapped`) and given in slices of at most :data:`MAPPED_SLICE_ROWS`,
        which stay in a core's cache while the caller makes its passes over them; any other is
        read through one reused buffer. Either way the caller may write into a slice (it never
        reaches the file) and must copy it to keep it past the next step. (Reading the next
        slice in a second thread while the caller works on this one was slower here, in wall and
        CPU time, on a 2-core machine: the photon-tag histogram of 10⁸ tags took 0.25–0.29 s with
        it, 0.23–0.25 s without.)
        """
        if key not in self.datasets:
            raise MissingDataError(self.path, f"missing dataset: {key}")
        info = self.datasets[key]
        n = info.shape[0] if info.shape else 0
        end = n if stop is None else min(stop, n)
        start = min(max(0, start), end)
        desc = f"{self.path.name}:{key}"
        with _open(self.path) as f, _progress(end - start, desc, progress) as bar:
            d = f["datasets"][key]
            extent = contiguous_extent(d)
            if extent is not None:
                step = max(1, min(rows, MAPPED_SLICE_ROWS))
                for window in mapped_windows(self.path, extent, start, end):
                    for i in range(0, window.size, step):
                        out = window[i : i + step]
                        yield out
                        bar.update(out.size)
                return
            buf = np.empty(min(rows, end - start), dtype=d.dtype)
            for i in range(start, end, rows):
                j = min(end, i + rows)
                out = buf[: j - i]
                d.read_direct(out, np.s_[i:j])
                yield out
                bar.update(j - i)


@contextlib.contextmanager
def _progress(total: int, desc: str, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="row", unit_scale=True, file=sys.stderr, leave=False)
    try:
        yield bar
    finally:
        bar.close()


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _catalogue(group: Any) -> tuple[dict[str, DatasetInfo], dict[str, Any]]:
    import h5py

    infos: dict[str, DatasetInfo] = {}
    small: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Dataset):
            return
        attrs = {a: _decode_value(obj.attrs[a]) for a in _META_ATTRS if a in obj.attrs}
        infos[name] = DatasetInfo(name, tuple(obj.shape or ()), str(obj.dtype), attrs)
        if (obj.size or 0) <= _SMALL and obj.shape is not None:
            small[name] = _decode_value(obj[()])

    group.visititems(visit)
    return infos, small


def _root(f: Any, key: str) -> Any:
    return _decode_value(f[key][()]) if key in f and hasattr(f[key], "shape") else None


def load(path: str | os.PathLike[str]) -> Run:
    """Load the catalogue and small values of an ARTIQ results file (ARTIQ 5–9).

    :raises FileFormatError: if the file is missing, not HDF5, corrupt or truncated
    :raises SchemaError: if it is HDF5 but not an ARTIQ results file (no ``datasets`` group)
    """
    p = Path(path)
    with _open(p) as f:
        if "datasets" not in f:
            raise SchemaError(p, "not an ARTIQ results file (no 'datasets' group)")
        infos, small = _catalogue(f["datasets"])
        archive = _catalogue(f["archive"])[0] if "archive" in f else {}
        expid_raw = _root(f, "expid")
        try:
            expid = decode_pyon(expid_raw) if isinstance(expid_raw, str) else expid_raw
        except ValueError:
            expid = expid_raw
        rid, st, rt = _root(f, "rid"), _root(f, "start_time"), _root(f, "run_time")
        return Run(
            path=p,
            artiq_version=None
            if _root(f, "artiq_version") is None
            else str(_root(f, "artiq_version")),
            rid=None if rid is None else int(rid),
            start_time=None if st is None else float(st),
            run_time=None if rt is None else float(rt),
            expid=expid,
            datasets=infos,
            archive=archive,
            values=small,
        )


#: the ionlink schema versions this analysis reads, by the dataset that holds each: a file of a
#: later version may mean other things by the same names
READ_SCHEMAS = {"schema_version": SCHEMA_VERSION, "gate.schema_version": GATE_SCHEMA_VERSION}


def newer_schema(run: Run) -> str | None:
    """Why ``run`` is of an ionlink schema later than this analysis reads (``None``: it is not)."""
    for key, known in READ_SCHEMAS.items():
        v = run.values.get(key)
        if v is not None and int(v) > known:
            return (
                f"{key} {int(v)} is newer than this analysis reads ({known}): analyse it with the "
                "ionlink that wrote it, or a later one"
            )
    return None


def kind_problem(run: Run, kinds: Iterable[str]) -> str | None:
    """Why ``run`` is not a run of one of the ionlink experiment ``kinds`` (``None``: it is);
    a file without ionlink's datasets (another lab's) is named as such, and one of a later
    schema (:func:`newer_schema`), the same words for every command."""
    newer = newer_schema(run)
    if newer is not None:
        return newer
    if run.experiment is None:
        return (
            f"no ionlink experiment datasets (no 'ionlink.experiment' among its "
            f"{len(run.datasets)} datasets{'' if run.schema_version else ', no schema_version'})"
        )
    return None if run.experiment in kinds else f"ionlink.experiment is {run.experiment!r}"


def require(run: Run, keys: Iterable[str], purpose: str) -> None:
    """Check that ``run`` holds ``keys`` for ``purpose``.

    :raises SchemaError: for a file without ionlink's ``schema_version`` (foreign schema) or of
        a later schema than this analysis reads (:func:`newer_schema`)
    :raises MissingDataError: naming the needed and the missing datasets
    """
    newer = newer_schema(run)
    if newer is not None:
        raise SchemaError(run.path, newer)
    keys = list(keys)
    missing = [k for k in keys if k not in run.datasets]
    if not missing:
        return
    if run.schema_version is None:
        raise SchemaError(
            run.path,
            f"foreign schema (no ionlink 'schema_version'; {len(run.datasets)} datasets); "
            f"{purpose} needs datasets {', '.join(keys)}",
        )
    raise MissingDataError(
        run.path, f"{purpose} needs datasets {', '.join(keys)}; missing: {', '.join(missing)}"
    )
