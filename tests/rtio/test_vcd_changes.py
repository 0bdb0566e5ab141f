# SPDX-License-Identifier: LGPL-3.0-or-later
"""The bulk VCD change writer (``sim.rtio.vcd_changes``) against pyvcd's ``VCDWriter.change``
called once per change in time order (the reference): byte-identical files for random variables
and change sequences (repeated values, equal times, changes at time 0, events, reals with -0.0,
ints, bools and numpy ints mixed)."""

from __future__ import annotations

import io
from operator import itemgetter

import numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from vcd import VCDWriter

from sim.rtio.vcd_changes import write_changes

_VALUES = {
    "wire1": st.sampled_from([0, 1, True, False, "x"]),
    "wire4": st.one_of(st.integers(0, 15), st.sampled_from([True, "x"])),
    "integer": st.one_of(st.integers(-4, 4), st.integers(-4, 4).map(numpy.int64)),
    "real": st.sampled_from([0.0, -0.0, 1.5, 1e-9, 0, 2]),
    "event": st.just(True),
}


@st.composite
def _signals(draw: st.DrawFn) -> list[tuple[str, list[tuple[int, object]]]]:
    out = []
    for kind in draw(st.lists(st.sampled_from(sorted(_VALUES)), max_size=5)):
        times = sorted(draw(st.lists(st.integers(0, 12), max_size=25)))
        out.append((kind, [(t, draw(_VALUES[kind])) for t in times]))
    return out


def _write(signals: list, bulk: bool) -> tuple[str, list]:
    """The file's text and each variable's value after the changes."""
    f = io.StringIO()
    with VCDWriter(f, timescale="1 ns", date="today", check_values=False) as w:
        per_var = []
        for i, (kind, evs) in enumerate(signals):
            scope, name = ("rtio", "s{}".format(i % 2)), "v{}".format(i)
            if kind == "real":
                var = w.register_var(scope, name, "real", init=0.0)
            elif kind == "event":
                var = w.register_var(scope, name, "event")
            elif kind == "wire1":
                var = w.register_var(scope, name, "wire", size=1, init="x" if i % 2 else 0)
            elif kind == "wire4":
                var = w.register_var(scope, name, "wire", size=4, init=0)
            else:
                var = w.register_var(scope, name, "integer", size=32, init=0)
            per_var.append((var, evs))
        if bulk:
            write_changes(w, f, per_var)
        else:
            changes = [(var, t, v) for var, evs in per_var for t, v in evs]
            changes.sort(key=itemgetter(1))  # stable: variable order at equal times
            for c in changes:
                w.change(*c)
    return f.getvalue(), [(type(var.value), var.value) for var, _ in per_var]


@settings(max_examples=150, deadline=None)
@given(_signals())
def test_bulk_changes_are_pyvcds_bytes(signals):
    assert _write(signals, bulk=True) == _write(signals, bulk=False)


def test_pulse_train_text():
    """A pulse train: one ``#t`` line per time, repeated values dropped, as pyvcd writes."""
    evs = [(0, 0), (5, 1), (7, 0), (7, 1), (9, 1), (12, 0)]
    text = _write([("wire1", evs), ("event", [(7, True), (8, True)])], bulk=True)[0]
    body = text.split("$end\n")[-1]
    assert body == '#5\n1!\n#7\n0!\n1!\n1"\n#8\n1"\n#12\n0!\n'
    assert text == _write([("wire1", evs), ("event", [(7, True), (8, True)])], bulk=False)[0]
