# SPDX-License-Identifier: LGPL-3.0-or-later
"""A VCD's value changes written in bulk: what pyvcd's ``VCDWriter.change`` writes, without a call
per change.

:func:`write_changes` takes a pyvcd writer whose variables are registered and each variable's
changes, and writes the same text as calling ``writer.change(var, t, value)`` for every change in
time order (at equal times, in the order given): changes at time 0 go through pyvcd itself (they
set the ``$dumpvars`` values); the later ones are filtered as pyvcd filters them (a value equal to
the variable's last one writes nothing, an event always writes), formatted by the variable's own
``format_value`` (once per distinct integer value), merged by time and written with one ``#t``
line per time that writes anything; for integer and boolean values all of it without a Python
loop per change. ``tests/rtio/test_vcd_changes.py`` checks it byte for byte against
the per-change calls.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import chain, compress
from operator import itemgetter, ne
from typing import Any, TextIO

import numpy

__all__ = ["write_changes"]

#: value types handled in bulk: equality among them is exact (so comparing each value with the one
#: before it is comparing it with the last one written) and ``True`` and ``1`` format alike for
#: every variable kind (other types comparing equal to an int may format differently: ``-0.0``,
#: numpy integers)
_MEMO_TYPES = frozenset((int, bool))


def write_changes(writer: Any, out: TextIO, changes: Sequence[tuple[Any, list]]) -> None:
    """Write ``changes``, ``(variable, [(t, value), ...])`` per variable of ``writer`` (a pyvcd
    ``VCDWriter`` writing to ``out``, registration done or not), each list in time order with
    times ≥ 0, as ``writer.change`` would for every change in time order, at equal times in
    the order of ``changes``. Leaves ``writer`` ready to be closed (header written, variables
    holding their last values)."""
    later: list[tuple[Any, list]] = []
    for var, evs in changes:
        k = bisect_left(evs, (1,))  # compares the times only
        for t, v in evs[:k]:
            writer.change(var, t, v)
        if k < len(evs):
            later.append((var, evs[k:]))
    writer.flush()  # header, ``#0`` and ``$dumpvars``, as before pyvcd's first later change
    times: list[int] = []
    lines: list[str] = []
    for var, evs in later:
        _emitted(var, evs, times, lines)
    if not lines:
        return
    t = numpy.asarray(times, dtype=numpy.int64)
    if len(later) > 1:
        order = numpy.argsort(t, kind="stable")
        t = t[order]
        lines = list(map(lines.__getitem__, order.tolist()))
    new = numpy.ones(len(t), dtype=bool)  # every time is after the ``#0`` of ``$dumpvars``
    numpy.not_equal(t[1:], t[:-1], out=new[1:])
    if new.all():  # one change per time (a pulse train): ``#t`` before each
        out.write("".join([f"#{s}\n{line}\n" for s, line in zip(t.tolist(), lines)]))
        return
    idx = numpy.flatnonzero(new)
    heads = numpy.full(len(t), "", dtype=object)  # ``#t`` before the first change at each time
    heads[idx] = list(map("#{}\n".format, t[idx].tolist()))
    out.write("".join([f"{h}{line}\n" for h, line in zip(heads.tolist(), lines)]))


def _emitted(var: Any, evs: list, times: list[int], lines: list[str]) -> None:
    """Append to ``times``/``lines`` the changes of ``var`` that pyvcd writes, formatted."""
    ts = list(map(itemgetter(0), evs))
    vals = list(map(itemgetter(1), evs))
    if not set(map(type, vals)) <= _MEMO_TYPES:  # reals, strings, numpy values: one by one
        _emitted_each(var, ts, vals, times, lines)
        return
    if var.type.value != "event":  # a value equal to the last one writes nothing
        keep = list(map(ne, vals, chain((var.value,), vals)))
        ts = list(compress(ts, keep))
        vals = list(compress(vals, keep))
    if not vals:
        return
    memo = {v: var.format_value(v, False) for v in set(vals)}
    times += ts
    lines += map(memo.__getitem__, vals)
    var.value = vals[-1]


def _emitted_each(var: Any, ts: list, vals: list, times: list[int], lines: list[str]) -> None:
    """:func:`_emitted` change by change, comparing each value with the last one written."""
    fmt = var.format_value
    cur = var.value
    event = var.type.value == "event"  # pyvcd's VarType
    for t, v in zip(ts, vals):
        if v != cur or event:
            times.append(t)
            lines.append(fmt(v, False))
            cur = v
    var.value = cur
