# SPDX-License-Identifier: LGPL-3.0-or-later
"""The time-tag stream on the wire: one ZeroMQ multipart message per batch of tags.

Frames (a PUB/SUB stream from ``aqctl_ionlink_timetagger``, and the same format on the PUSH/PULL
feed by which the simulator hands its detector events to the controller):

1. a JSON header (UTF-8): ``{"format": "ionlink.timetags", "version": 1, "seq": n, "n": count,
   "time_unit": "ps", "time_dtype": "<i8", "channel_dtype": "<i4", "t_first_ps": ...,
   "t_last_ps": ..., "lost": tags dropped before this batch, "channels": {"1": "bsa_det0", ...},
   "source": "simulation"}``; ``seq`` counts batches from 0 per publisher (a gap means the
   subscriber missed batches);
2. the tags' times: ``n`` little-endian int64, in ps, non-decreasing within a batch and across
   the batches of one publisher;
3. the tags' channels: ``n`` little-endian int32 (Swabian's convention: a rising edge on input
   ``c`` is ``c``, a falling edge ``-c``).

:func:`decode` checks everything and raises :class:`TagStreamError` (one line) on anything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FORMAT", "VERSION", "TagBatch", "TagStreamError", "decode", "encode"]

FORMAT = "ionlink.timetags"
VERSION = 1
_TIME = np.dtype("<i8")
_CHANNEL = np.dtype("<i4")


class TagStreamError(ValueError):
    """A message that is not a batch of this format."""


@dataclass(frozen=True)
class TagBatch:
    """One batch of tags.

    :param seq: batch number of its publisher. :param times_ps: int64 (n,), ps.
    :param channels: int32 (n,). :param lost: tags the publisher dropped before this batch.
    :param channel_names: input number → name. :param source: who produced the tags.
    """

    seq: int
    times_ps: np.ndarray
    channels: np.ndarray
    lost: int = 0
    channel_names: dict[int, str] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.times_ps)


def encode(batch: TagBatch) -> list[bytes]:
    """The three frames of ``batch``."""
    t = np.ascontiguousarray(batch.times_ps, dtype=_TIME)
    c = np.ascontiguousarray(batch.channels, dtype=_CHANNEL)
    if t.shape != c.shape or t.ndim != 1:
        raise TagStreamError(f"times {t.shape} and channels {c.shape} differ in shape")
    header = {
        "format": FORMAT,
        "version": VERSION,
        "seq": int(batch.seq),
        "n": len(t),
        "time_unit": "ps",
        "time_dtype": _TIME.str,
        "channel_dtype": _CHANNEL.str,
        "t_first_ps": int(t[0]) if len(t) else None,
        "t_last_ps": int(t[-1]) if len(t) else None,
        "lost": int(batch.lost),
        "channels": {str(k): v for k, v in batch.channel_names.items()},
        "source": batch.source,
    }
    return [json.dumps(header).encode(), t.tobytes(), c.tobytes()]


def _header(frame: bytes) -> dict[str, Any]:
    try:
        header = json.loads(frame.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TagStreamError(f"header is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TagStreamError(f"not an {FORMAT} message")
    if header.get("version") != VERSION:
        raise TagStreamError(f"{FORMAT} version {header.get('version')!r}, expected {VERSION}")
    for key in ("seq", "n", "lost"):
        if not isinstance(header.get(key), int) or header[key] < 0:
            raise TagStreamError(f"header field {key!r} = {header.get(key)!r} is not a count")
    if header.get("time_dtype") != _TIME.str or header.get("channel_dtype") != _CHANNEL.str:
        raise TagStreamError(
            "unsupported dtypes {!r}, {!r}".format(
                header.get("time_dtype"), header.get("channel_dtype")
            )
        )
    return header


def decode(frames: list[bytes]) -> TagBatch:
    """The batch in a received multipart message.

    :raises TagStreamError: wrong frame count, header, sizes, or times out of order."""
    if len(frames) != 3:
        raise TagStreamError(f"expected 3 frames (header, times, channels), got {len(frames)}")
    header = _header(bytes(frames[0]))
    n = header["n"]
    if len(frames[1]) != 8 * n or len(frames[2]) != 4 * n:
        raise TagStreamError(
            f"frame sizes {len(frames[1])}, {len(frames[2])} bytes do not hold {n} tags"
        )
    times = np.frombuffer(frames[1], dtype=_TIME).astype(np.int64)
    channels = np.frombuffer(frames[2], dtype=_CHANNEL).astype(np.int32)
    if n > 1 and np.any(np.diff(times) < 0):
        raise TagStreamError(f"batch {header['seq']}: times are not in order")
    try:
        names = {int(k): str(v) for k, v in dict(header.get("channels") or {}).items()}
    except (TypeError, ValueError):
        raise TagStreamError("header field 'channels' is not {number: name}") from None
    return TagBatch(
        header["seq"], times, channels, header["lost"], names, str(header.get("source", ""))
    )
