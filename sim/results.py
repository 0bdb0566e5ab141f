# SPDX-License-Identifier: LGPL-3.0-or-later
"""HDF5 results files in ARTIQ's layout, and the persistent run-id counter.

Layout (ARTIQ 9 master worker, ``artiq/master/worker_impl.py``):
``results/YYYY-MM-DD/HH/{rid:09d}-{Class}.h5`` (local time of the build start) holding root datasets
``artiq_version`` (str), ``rid`` (int), ``start_time`` and ``run_time`` (float, ``time.time()``),
``expid`` (PYON v2 string), and groups ``datasets/`` (archived datasets set by the run) and
``archive/`` (master datasets the run read). Keys are not split on ``.``. Dataset metadata is stored
as attributes ``unit``/``scale``/``precision``.

The run id comes from ``last_rid.pyon`` in the results directory's parent (as the master keeps it:
the last used rid as a decimal line); without that file, the results tree is scanned. A file that
holds anything else (not an integer, or a negative one) is refused (:class:`RIDFileError`), not
guessed around: the next rid would be a guess, or a negative rid name a results file. Processes
sharing the folder (two labs' simulations run at once) take their run ids one at a time, under a
lock on ``last_rid.pyon.lock``: the master gives them out from one process.

A results file is made in memory first (:func:`results_image`) and then written out, so that HDF5
never writes to a disk that fills up under it (its clean-up after a failed write crashes the
process: h5py 3.16 / HDF5 2.0 on a full tmpfs end in a segmentation fault); :func:`write_file`
then writes the bytes (and :func:`sim.outputs.write_with_fallback` elsewhere if it cannot).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import h5py

from comms import pyon
from sim.lab_lock import held_briefly

__all__ = [
    "results_path",
    "results_image",
    "write_file",
    "write_results",
    "write_group",
    "RIDCounter",
    "RIDFileError",
]

logger = logging.getLogger(__name__)


def results_path(
    results_dir: str | os.PathLike, rid: int, class_name: str, start_time: float
) -> Path:
    """``results_dir/YYYY-MM-DD/HH/{rid:09d}-{class_name}.h5`` for ``start_time`` in local time."""
    t = time.localtime(start_time)
    return (
        Path(results_dir)
        / time.strftime("%Y-%m-%d", t)
        / time.strftime("%H", t)
        / "{:09}-{}.h5".format(rid, class_name)
    )


def write_group(group: Any, values: dict, metadata: dict, strict: bool = True) -> None:
    """Write ``values`` as datasets of ``group`` with their metadata as attributes.

    :param strict: as ARTIQ, raise for values HDF5 cannot hold. Otherwise such a value is written
        as its PYON string with the attribute ``ionlink_pyon = True`` (and a warning is logged), so
        nothing is lost.
    :raises TypeError: ``Error writing dataset '<key>' of type '<type>': ...`` (strict only).
    """
    for key, value in values.items():
        try:
            _write_one(group, key, value, metadata.get(key, {}))
        except TypeError as exc:
            message = "Error writing dataset '{}' of type '{}': {}".format(key, type(value), exc)
            if strict:
                raise TypeError(message) from exc
            logger.warning("%s; stored as a PYON string", message)
            if key in group:
                del group[key]
            _write_one(group, key, pyon.encode(value), metadata.get(key, {}))
            group[key].attrs["ionlink_pyon"] = True


def _write_one(group: Any, key: str, value: Any, metadata: dict) -> None:
    group[key] = value
    for name, attr in metadata.items():
        group[key].attrs[name] = attr


def results_image(
    dataset_mgr: Any,
    *,
    rid: int,
    start_time: float,
    run_time: float | None,
    expid: dict,
    artiq_version: str,
    strict: bool = True,
) -> memoryview:
    """The bytes of a results file, made in memory (no file is created; a ``BytesIO``, which
    costs one file's size of memory where HDF5's in-memory driver and its image cost two).

    ``run_time`` is ``None`` only if ``run()`` was never reached (the simulator then writes
    ``start_time``; ARTIQ writes no file in that case).
    """
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        dataset_mgr.write_hdf5(f, strict=strict)
        f["artiq_version"] = artiq_version
        f["rid"] = rid
        f["start_time"] = start_time
        f["run_time"] = start_time if run_time is None else run_time
        f["expid"] = pyon.encode(expid)
    return buffer.getbuffer()


def write_file(path: Path, image: bytes | memoryview, *, replace: bool = True) -> None:
    """Write ``image`` to ``path`` (creating its folder) under a temporary name in the same folder,
    renamed into place: an interruption or a full disk never leaves a truncated file under the
    final name, nor the temporary file. ``replace`` False: an existing file at ``path`` is kept
    (``FileExistsError``; the new file is linked into place, which fails if the name is taken).

    :raises OSError: the file cannot be written (nothing is left behind).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / ".{}.{}.tmp".format(path.name, os.getpid())  # created with the umask
    try:
        with open(tmp, "wb") as f:
            f.write(image)
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.unlink(missing_ok=True)


def _link_new(tmp: Path, path: Path) -> None:
    """``tmp`` linked at ``path``, which must not exist (``FileExistsError``); on a file system
    without hard links (FAT, some network shares) renamed there after a check instead."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(tmp, path)


#: what ``os.link`` raises where the file system has no hard links
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV}


def write_results(path: str | os.PathLike, dataset_mgr: Any, **meta: Any) -> Path:
    """Write one results file at ``path`` (creating its folder) and return its path; ``meta``: the
    keyword arguments of :func:`results_image`.

    :raises OSError: the file cannot be written there (no partial file is left).
    """
    path = Path(path)
    write_file(path, results_image(dataset_mgr, **meta))
    logger.info("Results written to %s", path)
    return path


class RIDFileError(ValueError):
    """``last_rid.pyon`` does not hold a run id (an integer ≥ 0); the message names the file."""


class RIDCounter:
    """Monotonic run ids, cached in ``cache_file`` (``last_rid.pyon``: the last used rid).

    :param cache_file: path of ``last_rid.pyon``.
    :param results_dir: results tree scanned when the cache file does not exist.
    """

    _H5 = re.compile(r"(\d{9})-.*\.h5")

    def __init__(self, cache_file: str | os.PathLike, results_dir: str | os.PathLike):
        self.cache_file = Path(cache_file)
        self.results_dir = Path(results_dir)

    def last(self) -> int:
        """The last used rid (-1 if none).

        :raises RIDFileError: the cache file holds no rid (not an integer ≥ 0).
        """
        try:
            text = self.cache_file.read_text(errors="replace")
        except FileNotFoundError:
            return self._scan_results()
        try:
            rid = int(text)
        except ValueError:
            rid = -1
        if rid < 0:
            raise RIDFileError(
                "run-id file '{}' does not hold a run id (the last one used, an integer ≥ 0): "
                "{!r}; correct it, or delete it to count on from the results files".format(
                    self.cache_file, text.strip()[:40]
                )
            )
        return rid

    #: take run ids under a lock next to the cache file (a counter that stores none: no lock)
    locked = True

    def get(self) -> int:
        """Allocate the next rid and record it in the cache file (one process at a time)."""
        if not self.locked:
            return self._next()
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        with held_briefly(self.cache_file.with_name(self.cache_file.name + ".lock")):
            return self._next()

    def _next(self) -> int:
        rid = self.last() + 1
        self._store(rid)
        return rid

    def _store(self, rid: int) -> None:
        write_file(self.cache_file, "{}\n".format(rid).encode())

    def _scan_results(self) -> int:
        last = -1
        if not self.results_dir.is_dir():
            return last
        for day in self.results_dir.iterdir():
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day.name) or not day.is_dir():
                continue
            for hour in day.iterdir():
                if not re.fullmatch(r"\d\d(-\d\d)?", hour.name) or not hour.is_dir():
                    continue
                for f in hour.iterdir():
                    m = self._H5.fullmatch(f.name)
                    if m is not None:
                        last = max(last, int(m.group(1)))
        return last
