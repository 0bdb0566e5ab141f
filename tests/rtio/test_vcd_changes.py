# SPDX-License-Identifier: LGPL-3.0-or-later
"""The bulk VCD change writer (``sim.rtio.vcd_changes``) against pyvcd's ``VCDWriter.change``
called once per change in time order (the reference): byte-identical files for random variables
and change sequences (repeated values, equal times, changes at time 0, events, reals with -0.0,
ints, bools and numpy ints mixed; times of up to 19 digits, values wider than 64 bits, changes
given as columns, the text joined as strings when the value lines are many)."""

from __future__ import annotations

import io
from operator import itemgetter

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vcd import VCDWriter

from sim.rtio import vcd_changes
from sim.rtio.vcd_changes import Changes, write_changes

_VALUES = {
    "wire1": st.sampled_from([0, 1, True, False, "x"]),
    "wire4": st.one_of(st.integers(0, 15), st.sampled_from([True, "x"])),
    "integer": st.one_of(st.integers(-4, 4), st.integers(-4, 4).map(numpy.int64)),
    "real": st.sampled_from([0.0, -0.0, 1.5, 1e-9, 0, 2]),
    "event": st.just(True),
}

_WIDE = {
    **_VALUES,
    "wire64": st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**63, True])),
    "integer": st.one_of(st.integers(-(10**5), 10**5), st.integers(-(2**70), 2**70)),
}


@st.composite
def _signals(draw: st.DrawFn, values: dict = _VALUES, t_max: int = 12) -> list:
    out = []
    for kind in draw(st.lists(st.sampled_from(sorted(values)), max_size=5)):
        t = st.one_of(st.integers(0, 12), st.integers(0, t_max))
        times = sorted(draw(st.lists(t, max_size=25)))
        out.append((kind, [(t, draw(values[kind])) for t in times]))
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
            elif kind == "wire64":
                var = w.register_var(scope, name, "wire", size=64, init=0)
            else:
                var = w.register_var(scope, name, "integer", size=32, init=0)
            per_var.append((var, evs))
        if bulk:
            write_changes(
                w, f, [(v, _columns(evs) if i % 2 else evs) for i, (v, evs) in enumerate(per_var)]
            )
        else:
            changes = [(var, t, v) for var, evs in per_var for t, v in evs]
            changes.sort(key=itemgetter(1))  # stable: variable order at equal times
            for c in changes:
                w.change(*c)
    return f.getvalue(), [(type(var.value), var.value) for var, _ in per_var]


def _columns(evs: list) -> Changes:
    return Changes([t for t, _ in evs], [v for _, v in evs])


@settings(max_examples=150, deadline=None)
@given(_signals())
def test_bulk_changes_are_pyvcds_bytes(signals):
    assert _write(signals, bulk=True) == _write(signals, bulk=False)


@settings(max_examples=150, deadline=None)
@given(_signals(_WIDE, 2**63 - 1), st.booleans())
def test_wide_values_long_times(signals, few_lines):
    """Times of every digit count, values beyond 64 bits; with ``few_lines`` the text is joined
    as strings from the third distinct value line on and values are numbered by sorting."""
    with pytest.MonkeyPatch.context() as mp:
        if few_lines:
            mp.setattr(vcd_changes, "_TABLE_MAX", 2)
            mp.setattr(vcd_changes, "_COUNT_SPAN", 2)
        assert _write(signals, bulk=True) == _write(signals, bulk=False)


def test_pulse_train_text():
    """A pulse train: one ``#t`` line per time, repeated values dropped, as pyvcd writes."""
    evs = [(0, 0), (5, 1), (7, 0), (7, 1), (9, 1), (12, 0)]
    text = _write([("wire1", evs), ("event", [(7, True), (8, True)])], bulk=True)[0]
    body = text.split("$end\n")[-1]
    assert body == '#5\n1!\n#7\n0!\n1!\n1"\n#8\n1"\n#12\n0!\n'
    assert text == _write([("wire1", evs), ("event", [(7, True), (8, True)])], bulk=False)[0]
