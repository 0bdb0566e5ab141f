# SPDX-License-Identifier: LGPL-3.0-or-later
"""Zero-copy reads of a large 1-D dataset: its bytes mapped from the results file a window at a
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

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["WINDOW_BYTES", "Extent", "contiguous_extent", "mapped_windows"]

#: bytes mapped at once (16 MiB)
WINDOW_BYTES = 16 << 20


@dataclass(frozen=True)
class Extent:
    """Where a dataset's elements lie in its file.

    :param offset: byte offset of the first element from the start of the file
    :param dtype: the elements' type (native byte order)
    :param count: number of elements
    """

    offset: int
    dtype: np.dtype
    count: int


def contiguous_extent(dataset: Any) -> Extent | None:
    """The :class:`Extent` of an open h5py ``dataset`` if it is 1-D, stored contiguously in its
    own file without filters, of native integer or float type, in a file without a user block,
    and its first and last elements' bytes at that offset are those HDF5 reads; else None."""
    try:
        if dataset.ndim != 1 or dataset.shape[0] == 0:
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
    extent = Extent(int(offset), dtype, int(dataset.shape[0]))
    try:
        with open(dataset.file.filename, "rb") as fh:
            for i in (0, extent.count - 1):
                fh.seek(extent.offset + i * dtype.itemsize)
                raw = fh.read(dtype.itemsize)
                if raw != np.asarray(dataset[i], dtype).tobytes():
                    return None  # (a short read of the last: the file is cut short)
    except OSError:
        return None
    return extent


def mapped_windows(
    path: Path | str, extent: Extent, window_bytes: int = WINDOW_BYTES
) -> Iterator[np.ndarray]:
    """Consecutive arrays covering the ``extent``'s elements in order, each a private map of at
    most ``window_bytes`` of the file (writable; writes stay in this process)."""
    item = extent.dtype.itemsize
    per = max(1, window_bytes // item)
    grain = mmap.ALLOCATIONGRANULARITY
    with open(path, "rb") as fh:
        for i in range(0, extent.count, per):
            n = min(per, extent.count - i)
            start = extent.offset + i * item
            base = start - start % grain
            size = start - base + n * item
            m = mmap.mmap(fh.fileno(), size, offset=base, access=mmap.ACCESS_COPY)
            yield np.frombuffer(m, dtype=extent.dtype, count=n, offset=start - base)
