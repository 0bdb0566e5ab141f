# SPDX-License-Identifier: LGPL-3.0-or-later
"""A VCD's value changes written in bulk: what pyvcd's ``VCDWriter.change`` writes, without a call
per change.

:func:`write_changes` takes a pyvcd writer whose variables are registered and each variable's
changes, and writes the same text as calling ``writer.change(var, t, value)`` for every change in
time order (at equal times, in the order given): changes at time 0 go through pyvcd itself (they
set the ``$dumpvars`` values); the later ones are filtered as pyvcd filters them (a value equal to
the variable's last one writes nothing, an event always writes), formatted by the variable's own
``format_value`` (remembered per integer value), merged by time and written with one ``#t`` line
per time that writes anything. ``tests/rtio/test_vcd_changes.py`` checks it byte for byte against
the per-change calls.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any, TextIO

import numpy

__all__ = ["write_changes"]

#: values whose formatted string a variable remembers (``True`` and ``1`` format alike for every
#: variable kind; other types comparing equal to an int may format differently: ``-0.0``,
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
    if len(later) > 1:
        order = numpy.argsort(numpy.asarray(times, dtype=numpy.int64), kind="stable").tolist()
        times = [times[i] for i in order]
        lines = [lines[i] for i in order]
    prev = 0  # the ``#0`` of ``$dumpvars``
    for i, t in enumerate(times):
        if t != prev:
            lines[i] = f"#{t}\n{lines[i]}"
            prev = t
    out.write("\n".join(lines))
    out.write("\n")


def _emitted(var: Any, evs: list, times: list[int], lines: list[str]) -> None:
    """Append to ``times``/``lines`` the changes of ``var`` that pyvcd writes, formatted."""
    fmt = var.format_value
    cur = var.value
    kind = var.type.value  # pyvcd's VarType
    event = kind == "event"
    memo: dict[Any, str] = {}
    for t, v in evs:
        if v != cur or event:
            if type(v) in _MEMO_TYPES:
                s = memo.get(v)
                if s is None:
                    s = memo[v] = fmt(v, False)
            else:
                s = fmt(v, False)
            times.append(t)
            lines.append(s)
            cur = v
    var.value = cur
