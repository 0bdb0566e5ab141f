# SPDX-License-Identifier: LGPL-3.0-or-later
"""Reading ARTIQ results files (ARTIQ 5–9), finding them, chunked reads and atomic writes.

Every read of a results file goes through :class:`Run` (other modules never open HDF5 files);
reports are written through :func:`staged_outputs`. A results file
has root datasets ``artiq_version``, ``rid``, ``start_time``, ``run_time``, ``expid``
(PYON v1 or v2, bytes or str) and groups ``datasets/`` and ``archive/`` whose datasets may
carry ``unit``/``scale``/``precision`` attributes (the display metadata ARTIQ keeps with a
dataset, stored as HDF5 attributes). Files from
labs that never used ionlink load too; :func:`require` says which datasets an estimator
needs and which are missing.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
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
    "check_calibrated_alike",
    "check_combinable",
    "check_distinct",
    "same_runs",
    "SameRun",
    "decode_pyon",
    "kind_problem",
    "load",
    "require",
    "uncalibrated",
    "uncalibrated_note",
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


def kind_problem(run: Run, kinds: Iterable[str]) -> str | None:
    """Why ``run`` is not a run of one of the ionlink experiment ``kinds`` (``None``: it is);
    a file without ionlink's datasets (another lab's) is named as such, the same words
    for every command."""
    if run.experiment is None:
        return (
            f"no ionlink experiment datasets (no 'ionlink.experiment' among its "
            f"{len(run.datasets)} datasets{'' if run.schema_version else ', no schema_version'})"
        )
    return None if run.experiment in kinds else f"ionlink.experiment is {run.experiment!r}"


def require(run: Run, keys: Iterable[str], purpose: str) -> None:
    """Check that ``run`` holds ``keys`` for ``purpose``.

    :raises SchemaError: for a file without ionlink's ``schema_version`` (foreign schema)
    :raises MissingDataError: naming the needed and the missing datasets
    """
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


#: the simulator's record of the lab description a run was simulated at (name, file digest, the
#: ``--set`` values applied to it); written by ``sim.provenance``, absent from hardware runs
SIM_LAB_KEYS = (
    "ionlink.sim.provenance.lab_name",
    "ionlink.sim.provenance.lab_sha256",
    "ionlink.sim.provenance.lab_overrides",
)


def _lab_of(run: Run) -> tuple[Any, ...]:
    return tuple(run.values.get(k) or None for k in SIM_LAB_KEYS)


def _lab_name(run: Run) -> str:
    name, digest, overrides = _lab_of(run)
    if name is None and digest is None:
        return "no simulated lab (a hardware run)"
    changed = f", with --set {overrides}" if overrides else ""
    return f"simulated lab {name!r} (description sha256 {str(digest)[:12]}{changed})"


#: the link's record of the calibrations a run lacked (comma-separated dataset keys, empty when
#: calibrated; written by ``drivers.link``): such a run used the default thresholds and gates
UNCALIBRATED = "ionlink.uncalibrated"
#: a simulated run's seed and the end of its timeline: with the same lab and arguments, the same
#: values mean the simulator replayed the same random stream (written by ``sim``)
_SIM_REPLAY_KEYS = ("ionlink.sim.seed", "ionlink.sim.now_mu", "totals.attempts", "totals.heralds")


def uncalibrated(run: Run) -> list[str] | None:
    """The calibration datasets a run was taken without (``[]``: calibrated; ``None``: the file
    does not say)."""
    v = run.values.get(UNCALIBRATED)
    return None if v is None else [k for k in str(v).split(",") if k]


def uncalibrated_note(run: Run) -> str | None:
    """A note for a run taken without its calibrations (None: calibrated, or the file does not
    say)."""
    missing = uncalibrated(run)
    if not missing:
        return None
    return (
        f"{run.path.name}: taken uncalibrated ({', '.join(missing)} not in the dataset store: "
        "the defaults were used)"
    )


_TWICE = "its heralds would be counted twice"


def _identities(run: Run) -> list[tuple[str, Any]]:
    """Keys that are equal for two files only if they hold one run: the file itself (its device
    and inode, so links too); the ARTIQ run (rid, ``start_time`` and ``run_time``: the master's
    ``time.time()`` at build and at run, hardware and simulator alike), so copies too; and for a
    simulated run its random stream (lab, seed, experiment class and arguments, the end of the
    timeline and the totals: a replay of the same seed gives the same outcomes)."""
    keys: list[tuple[str, Any]] = []
    with contextlib.suppress(OSError):
        st = os.stat(run.path)
        keys.append(("file", (st.st_dev, st.st_ino)))
    if None not in (run.rid, run.start_time, run.run_time):
        keys.append(("run", (run.rid, run.start_time, run.run_time)))
    replay = tuple(run.values.get(k) for k in _SIM_REPLAY_KEYS)
    if None not in replay:
        e = run.expid if isinstance(run.expid, dict) else {}
        what = [replay, _lab_of(run), e.get("class_name"), e.get("arguments")]
        keys.append(("replay", json.dumps(what, sort_keys=True, default=str)))
    return keys


def _same_run(kind: str, a: Run) -> tuple[str, str]:
    """How a second file holds ``a``'s run (``kind`` of :func:`_identities`), and what to do."""
    if kind == "file":
        return "the same file given twice", "give each run once"
    if kind == "run":
        when = _dt.datetime.fromtimestamp(a.start_time or 0).isoformat(sep=" ", timespec="seconds")
        return (
            f"one run (rid {a.rid}, started {when}: the same rid, start_time and run_time) "
            "given twice, as copies",
            "give each run once",
        )
    seed, now_mu = (a.values.get(k) for k in _SIM_REPLAY_KEYS[:2])
    return (
        f"one simulated run replayed (seed {seed}, the same lab, arguments and end of the "
        f"timeline, now_mu {now_mu}): the same random stream, not new data",
        "simulate more runs in one session, or with another --seed",
    )


@dataclass(frozen=True)
class SameRun:
    """Two files that hold one run: ``later`` repeats ``first``; ``how`` says how they match,
    ``advice`` what to give instead."""

    first: Run
    later: Run
    how: str
    advice: str


def same_runs(runs: Sequence[Run]) -> list[SameRun]:
    """Every file of ``runs`` that holds a run given before it (the same file, a copy of it, or
    a simulated replay of it), in the order given; each such file once."""
    seen: dict[tuple[str, Any], Run] = {}
    out: list[SameRun] = []
    for b in runs:
        for key in _identities(b):
            a = seen.setdefault(key, b)
            if a is not b:
                out.append(SameRun(a, b, *_same_run(key[0], a)))
                break
    return out


def check_distinct(runs: Sequence[Run]) -> None:
    """Refuse one run given twice (the same file, a copy of it, or a simulated replay of it):
    combined with itself it would count its heralds twice and narrow every interval.

    :raises SchemaError: naming both files
    """
    for same in same_runs(runs)[:1]:
        raise SchemaError(
            [same.first.path, same.later.path], f"{same.how}: {_TWICE}; {same.advice}"
        )


def check_calibrated_alike(runs: Sequence[Run]) -> None:
    """Refuse to combine runs taken without calibrations (:data:`UNCALIBRATED`) with runs taken
    with them: their readout thresholds and photon gates differ, so one estimate over both
    describes neither. Runs whose files do not say count as calibrated.

    :raises SchemaError: naming the uncalibrated files
    """
    bare = [r for r in runs if uncalibrated(r)]
    calibrated = [r for r in runs if not uncalibrated(r)]
    if bare and calibrated:
        raise SchemaError(
            [r.path for r in bare],
            f"taken uncalibrated ({UNCALIBRATED}: {', '.join(uncalibrated(bare[0]) or [])}), "
            f"cannot combine with the {len(calibrated)} calibrated run(s) (e.g. "
            f"{calibrated[0].path.name}): their thresholds and gates differ; analyse them "
            "separately (--per-run, or select with --rid/--since)",
        )


def check_combinable(runs: Sequence[Run], keys: Iterable[str]) -> None:
    """Refuse to combine one run given twice (:func:`check_distinct`), runs whose schema differs
    (version, experiment kind, datasets, dtypes), runs simulated at different labs (or one
    simulated, one not), runs heralded differently (gateware, CPU), or calibrated with
    uncalibrated runs (:func:`check_calibrated_alike`): one estimate over different physics, or
    over one run counted twice, would be wrong.

    :raises SchemaError: naming the first file that differs from the first run
    """
    if len(runs) < 2:
        return
    check_distinct(runs)
    ref = runs[0]
    keys = list(keys)
    for r in runs[1:]:
        if _lab_of(r) != _lab_of(ref):
            raise SchemaError(
                r.path,
                f"cannot combine with {ref.path.name}: this run was taken at {_lab_name(r)}, "
                f"that one at {_lab_name(ref)}; analyse each lab's runs separately",
            )
        ha, hb = ref.values.get("ionlink.heralding"), r.values.get("ionlink.heralding")
        if ha is not None and hb is not None and str(ha) != str(hb):
            raise SchemaError(
                r.path,
                f"cannot combine with {ref.path.name}: this run was heralded by {hb}, that one "
                f"by {ha} (ionlink.heralding): their attempt and herald rates differ; analyse "
                "them separately (--per-run, or select with --rid/--since)",
            )
        for what, a, b in (
            ("schema_version", ref.schema_version, r.schema_version),
            ("ionlink.experiment", ref.experiment, r.experiment),
        ):
            if a != b:
                raise SchemaError(
                    r.path, f"cannot combine with {ref.path.name}: {what} {b!r} differs from {a!r}"
                )
        for k in keys:
            ia, ib = ref.datasets.get(k), r.datasets.get(k)
            if (ia is None) != (ib is None):
                has = ref.path.name if ia is not None else r.path.name
                raise SchemaError(
                    r.path, f"cannot combine with {ref.path.name}: dataset '{k}' only in {has}"
                )
            if ia is not None and ib is not None:
                if (
                    np.dtype(ia.dtype).kind != np.dtype(ib.dtype).kind
                    or ia.shape[1:] != ib.shape[1:]
                ):
                    raise SchemaError(
                        r.path,
                        f"cannot combine with {ref.path.name}: "
                        f"dataset '{k}' is {ib.dtype}{list(ib.shape)}, "
                        f"not {ia.dtype}{list(ia.shape)}",
                    )
    check_calibrated_alike(runs)
