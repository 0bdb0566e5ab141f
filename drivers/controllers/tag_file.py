# SPDX-License-Identifier: LGPL-3.0-or-later
"""Time tags in HDF5: ``/tags/time_ps`` (int64) and ``/tags/channel`` (int32), growing as
batches arrive (chunked, resizable), flushed after every batch so that a crash loses at most the
batch being written. Attributes of ``/tags``: ``format`` and ``version`` of
:mod:`.tag_stream`, ``channels`` (JSON: input number → name), ``lost`` (tags the stream
reported dropped), ``batches``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from .tag_stream import FORMAT, VERSION, TagBatch

__all__ = ["TagFile", "read_tags"]

_CHUNK = 65536


class TagFile:
    """An HDF5 file being written with tags (see the module docstring).

    :param path: a file that must not exist yet (data already taken is never overwritten).
    :raises FileExistsError: ``path`` exists.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).resolve()
        self._file = h5py.File(self.path, "x")
        g = self._file.create_group("tags")
        g.create_dataset("time_ps", (0,), np.int64, maxshape=(None,), chunks=(_CHUNK,))
        g.create_dataset("channel", (0,), np.int32, maxshape=(None,), chunks=(_CHUNK,))
        g.attrs["format"] = FORMAT
        g.attrs["version"] = VERSION
        g.attrs["lost"] = 0
        g.attrs["batches"] = 0
        g.attrs["channels"] = "{}"
        self.count = 0

    def write(self, batch: TagBatch) -> None:
        """Append ``batch`` and flush."""
        g = self._file["tags"]
        n = len(batch)
        for name, data in (("time_ps", batch.times_ps), ("channel", batch.channels)):
            ds = g[name]
            ds.resize((self.count + n,))
            ds[self.count :] = data
        self.count += n
        g.attrs["lost"] = int(g.attrs["lost"]) + batch.lost
        g.attrs["batches"] = int(g.attrs["batches"]) + 1
        if batch.channel_names:
            g.attrs["channels"] = json.dumps({str(k): v for k, v in batch.channel_names.items()})
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file.id.valid:
            self._file.close()


def read_tags(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(time_ps, channel)`` of a tag file."""
    with h5py.File(path, "r") as f:
        return f["tags/time_ps"][()], f["tags/channel"][()]
