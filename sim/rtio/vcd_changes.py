# SPDX-License-Identifier: LGPL-3.0-or-later
"""A VCD's value changes written in bulk: what pyvcd's ``VCDWriter.change`` writes, without a call
per change.

:func:`write_changes` takes a pyvcd writer whose variables are registered and each variable's
changes, and writes the same text as calling ``writer.change(var, t, value)`` for every change in
time order (at equal times, in the order given): changes at time 0 go through pyvcd itself (they
set the ``$dumpvars`` values); the later ones are filtered as pyvcd filters them (a value equal to
the variable's last one writes nothing, an event always writes), formatted by the variable's own
``format_value`` (once per distinct value), merged by time and written with one ``#t`` line per
time that writes anything; for integer and boolean values all of it on arrays, the text too
(:func:`_render`: the digits of the times and the value lines put in place byte by byte), without
a Python object per change. ``tests/rtio/test_vcd_changes.py`` checks it byte for byte against
the per-change calls.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TextIO

import numpy

__all__ = ["Changes", "write_changes"]

#: value types handled in bulk: equality among them is exact (so comparing each value with the one
#: before it is comparing it with the last one written) and ``True`` and ``1`` format alike for
#: every variable kind (other types comparing equal to an int may format differently: ``-0.0``,
#: numpy integers)
_MEMO_TYPES = frozenset((int, bool))

#: distinct value lines up to which the text is put together on arrays (more: joined as strings)
_TABLE_MAX = 4096

#: a value span up to which distinct values are found by counting (wider: by sorting)
_COUNT_SPAN = 1 << 12

_POW10 = 10 ** numpy.arange(1, 19, dtype=numpy.int64)


@dataclass(frozen=True, slots=True)
class Changes:
    """A variable's changes as two columns, in time order: ``times[i]``, ``values[i]``."""

    times: Sequence[int]
    values: Sequence[Any]


def write_changes(writer: Any, out: TextIO, changes: Sequence[tuple[Any, Any]]) -> None:
    """Write ``changes``, ``(variable, [(t, value), ...] or Changes)`` per variable of ``writer``
    (a pyvcd ``VCDWriter`` writing to ``out``, registration done or not), each in time order
    with times ≥ 0, as ``writer.change`` would for every change in time order, at equal times in
    the order of ``changes``. Leaves ``writer`` ready to be closed (header written, variables
    holding their last values)."""
    later: list[tuple[Any, Sequence[int], Sequence[Any]]] = []
    for var, evs in changes:
        if isinstance(evs, Changes):
            ts, vals = evs.times, evs.values
        else:
            ts = list(map(itemgetter(0), evs))
            vals = list(map(itemgetter(1), evs))
        k = bisect_left(ts, 1)
        for t0, v0 in zip(ts[:k], vals[:k]):
            writer.change(var, t0, v0)
        if k < len(ts):
            later.append((var, ts[k:], vals[k:]))
    writer.flush()  # header, ``#0`` and ``$dumpvars``, as before pyvcd's first later change
    table: dict[str, int] = {}  # value line → its number
    times: list[numpy.ndarray] = []
    ids: list[numpy.ndarray] = []
    for var, ts, vals in later:
        _emitted(var, ts, vals, table, times, ids)
    if not times:
        return
    t = numpy.concatenate(times)
    line = numpy.concatenate(ids)
    if len(times) > 1:
        order = numpy.argsort(t, kind="stable")
        t = t[order]
        line = line[order]
    new = numpy.ones(len(t), dtype=bool)  # every time is after the ``#0`` of ``$dumpvars``
    numpy.not_equal(t[1:], t[:-1], out=new[1:])
    lines = list(table)
    if len(lines) <= _TABLE_MAX and all(map(str.isascii, lines)):
        out.write(_render(t, line, lines, new))
        return
    text = list(map(lines.__getitem__, line.tolist()))
    if new.all():  # one change per time (a pulse train): ``#t`` before each
        out.write("".join([f"#{s}\n{x}\n" for s, x in zip(t.tolist(), text)]))
        return
    idx = numpy.flatnonzero(new)
    heads = numpy.full(len(t), "", dtype=object)  # ``#t`` before the first change at each time
    heads[idx] = list(map("#{}\n".format, t[idx].tolist()))
    out.write("".join([f"{h}{x}\n" for h, x in zip(heads.tolist(), text)]))


def _emitted(
    var: Any,
    ts: Sequence[int],
    vals: Sequence[Any],
    table: dict[str, int],
    times: list[numpy.ndarray],
    ids: list[numpy.ndarray],
) -> None:
    """Append to ``times``/``ids`` the times of the changes of ``var`` that pyvcd writes and the
    numbers of their lines in ``table`` (extended with new lines)."""
    v = None
    if set(map(type, vals)) <= _MEMO_TYPES:
        try:
            v = numpy.fromiter(vals, numpy.int64, len(vals))
        except OverflowError:  # (wider than 64 bits: one by one)
            v = None
    if v is None:  # reals, strings, numpy values: one by one
        _emitted_each(var, ts, vals, table, times, ids)
        return
    t = numpy.asarray(ts, dtype=numpy.int64)
    last = len(vals) - 1
    if var.type.value != "event":  # a value equal to the last one writes nothing
        keep = numpy.empty(len(v), dtype=bool)
        keep[0] = bool(vals[0] != var.value)
        numpy.not_equal(v[1:], v[:-1], out=keep[1:])
        if not keep.all():
            kept = numpy.flatnonzero(keep)
            if not len(kept):
                return
            last = int(kept[-1])
            t, v = t[kept], v[kept]
    lo, hi = int(v.min()), int(v.max())
    if hi - lo < _COUNT_SPAN:  # distinct values by counting (a wire's levels)
        local = v - lo
        uniq = numpy.flatnonzero(numpy.bincount(local, minlength=hi - lo + 1))
        number = numpy.zeros(hi - lo + 1, dtype=numpy.intp)
        number[uniq] = [_number(table, var.format_value(int(u) + lo, False)) for u in uniq]
        line = number[local]
    else:
        uniq, inverse = numpy.unique(v, return_inverse=True)
        number = numpy.array([_number(table, var.format_value(int(u), False)) for u in uniq])
        line = number[inverse.ravel()]
    times.append(t)
    ids.append(line)
    var.value = vals[last]


def _number(table: dict[str, int], line: str) -> int:
    """The number of ``line`` in ``table``, added if new."""
    n = table.get(line)
    if n is None:
        n = table[line] = len(table)
    return n


def _emitted_each(
    var: Any,
    ts: Sequence[int],
    vals: Sequence[Any],
    table: dict[str, int],
    times: list[numpy.ndarray],
    ids: list[numpy.ndarray],
) -> None:
    """:func:`_emitted` change by change, comparing each value with the last one written."""
    fmt = var.format_value
    cur = var.value
    event = var.type.value == "event"  # pyvcd's VarType
    out_t: list[int] = []
    out_id: list[int] = []
    for t, v in zip(ts, vals):
        if v != cur or event:
            out_t.append(t)
            out_id.append(_number(table, fmt(v, False)))
            cur = v
    var.value = cur
    if out_t:
        times.append(numpy.asarray(out_t, dtype=numpy.int64))
        ids.append(numpy.asarray(out_id, dtype=numpy.intp))


def _render(t: numpy.ndarray, line: numpy.ndarray, lines: list[str], new: numpy.ndarray) -> str:
    """The changes' text: ``#t`` (where ``new``) and ``lines[line]`` per change, each line ended
    by a newline; ``t`` (≥ 0, in order) and ``line`` arrays, ``lines`` ASCII. Built as bytes on
    arrays: the changes with the same number of digits in their time (consecutive, ``t`` is in
    order) as rows of one width, the digits put in place column by column; unused bytes (no
    ``#t``, a shorter line) dropped by a mask."""
    enc = [x.encode("ascii") + b"\n" for x in lines]
    width = max(map(len, enc))
    length = numpy.fromiter(map(len, enc), numpy.intp, len(enc))
    rows = numpy.zeros((len(enc), width), dtype=numpy.uint8)
    for j, b in enumerate(enc):
        rows[j, : len(b)] = numpy.frombuffer(b, dtype=numpy.uint8)
    packed = bool((length == width).all()) and bool(new.all())  # (then no mask)
    bounds = numpy.searchsorted(t, _POW10).tolist() + [len(t)]
    parts: list[bytes] = []
    lo = 0
    for digits, hi in enumerate(bounds, start=1):
        if hi <= lo:
            continue
        m = numpy.empty((hi - lo, digits + 2 + width), dtype=numpy.uint8)
        m[:, 0] = ord("#")
        q = t[lo:hi]
        for c in range(digits, 1, -1):
            q10 = q // 10
            m[:, c] = q - q10 * 10
            q = q10
        m[:, 1] = q
        m[:, 1 : digits + 1] += ord("0")
        m[:, digits + 1] = ord("\n")
        m[:, digits + 2 :] = rows.take(line[lo:hi], axis=0)
        if packed:
            parts.append(m.tobytes())
        else:
            keep = numpy.empty(m.shape, dtype=bool)
            keep[:, : digits + 2] = new[lo:hi, None]
            keep[:, digits + 2 :] = numpy.arange(width) < length[line[lo:hi], None]
            parts.append(m[keep].tobytes())
        lo = hi
    return b"".join(parts).decode("ascii")
