# SPDX-License-Identifier: LGPL-3.0-or-later
"""Zero-copy reads of a dataset: its bytes mapped from the results file, a window of rows at a
time, where HDF5 stores them as one contiguous block.

ARTIQ writes datasets without chunking or filters, so a long array such as ``photons.t_mu``
(10⁸ time tags, 800 MB) is one block at a fixed offset of the file. Mapping that block instead
of copying it through HDF5 into a buffer saves a pass over the data; the file's pages come
straight from the page cache. Each window is a private (copy-on-write) map: a caller may write
into what it is given without reaching the file. A window is unmapped as soon as nothing refers
to it, so resident memory stays at about one window however long the dataset is.

Anything else (chunked, filtered or external storage, a user block, a byte order or type other
than the machine's own numbers) has no extent here and is read through HDF5 as before.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["WINDOW_BYTES", "Extent", "contiguous_extent", "map_rows", "mapped_windows"]

#: bytes mapped at once (16 MiB)
WINDOW_BYTES = 16 << 20


@dataclass(frozen=True)
class Extent:
    """Where a dataset's elements lie in its file (C order).

    :param offset: byte offset of the first element from the start of the file
    :param dtype: the elements' type (native byte order)
    :param shape: the dataset's shape (at least one dimension; rows are the first)
    """

    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def row_bytes(self) -> int:
        """Bytes of one row (one element of a 1-D dataset)."""
        return self.dtype.itemsize * math.prod(self.shape[1:])


def contiguous_extent(dataset: Any) -> Extent | None:
    """The :class:`Extent` of an open h5py ``dataset`` if it has rows, is stored contiguously in
    its own file without filters, is of native integer or float type, in a file without a user
    block, and its first and last elements' bytes at that offset are those HDF5 reads; else
    None."""
    try:
        if dataset.ndim == 0 or dataset.size == 0:
            return None
        if dataset.chunks is not None or dataset.external or getattr(dataset, "is_virtual", False):
            return None
        dtype = dataset.dtype
        if dtype.kind not in "iuf" or not dtype.isnative:
            return None
        if dataset.file.userblock_size:
            return None
        offset = dataset.id.get_offset()
    except (AttributeError, OSError, ValueError):
        return None
    if offset is None:
        return None
    extent = Extent(int(offset), dtype, tuple(int(n) for n in dataset.shape))
    first, last = (0,) * dataset.ndim, tuple(n - 1 for n in extent.shape)
    try:
        with open(dataset.file.filename, "rb") as fh:
            for index, at in ((first, 0), (last, dataset.size - 1)):
                fh.seek(extent.offset + at * dtype.itemsize)
                raw = fh.read(dtype.itemsize)
                if raw != np.asarray(dataset[index], dtype).tobytes():
                    return None  # (a short read of the last: the file is cut short)
    except OSError:
        return None
    return extent


def map_rows(fileno: int, extent: Extent, start: int, stop: int) -> np.ndarray:
    """Rows ``[start, stop)`` of the ``extent`` in the open file ``fileno``, as a private map
    (writable; writes stay in this process; unmapped once nothing refers to it)."""
    first = extent.offset + start * extent.row_bytes
    base = first - first % mmap.ALLOCATIONGRANULARITY
    size = first - base + (stop - start) * extent.row_bytes
    m = mmap.mmap(fileno, size, offset=base, access=mmap.ACCESS_COPY)
    count = (stop - start) * math.prod(extent.shape[1:])
    rows = np.frombuffer(m, extent.dtype, count, first - base)
    return rows.reshape((stop - start,) + extent.shape[1:])


def mapped_windows(
    path: Path | str,
    extent: Extent,
    start: int = 0,
    stop: int | None = None,
    window_bytes: int = WINDOW_BYTES,
) -> Iterator[np.ndarray]:
    """Consecutive row blocks covering rows ``[start, stop)`` of the ``extent`` (default: all)
    in order, each a :func:`map_rows` of at most ``window_bytes`` (or one row)."""
    per = max(1, window_bytes // extent.row_bytes)
    end = extent.shape[0] if stop is None else min(stop, extent.shape[0])
    with open(path, "rb") as fh:
        for i in range(start, end, per):
            yield map_rows(fh.fileno(), extent, i, min(end, i + per))
