# SPDX-License-Identifier: LGPL-3.0-or-later
"""The project's one PYON codec (:mod:`comms.pyon`): what sipyco writes, and cheap to import."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from comms import pyon

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value, text",
    [
        ((1, "a"), '{"__jsonclass__":["tuple",[[1,"a"]]]}'),
        ({1: 2}, '{"__jsonclass__":["dict",[[[1,2]]]]}'),
        ({3}, '{"__jsonclass__":["set",[[3]]]}'),
        (np.int32(5), '{"__jsonclass__":["npscalar",["<i4","BQAAAA=="]]}'),
        (np.float64(2.5), "2.5"),
        ([float("nan")], "[NaN]"),
        ({"a": (1,)}, '{"a":{"__jsonclass__":["tuple",[[1]]]}}'),
    ],
)
def test_pyon_matches_sipyco(value, text):
    """comms.pyon writes what sipyco.pyon writes (strings taken from sipyco)."""
    assert pyon.encode(value) == text
    decoded = pyon.decode(text)
    assert type(decoded) is type(value) or isinstance(value, np.floating)


def test_pyon_round_trips_v1_and_arrays():
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    back = pyon.decode(pyon.encode({"a": a, (1, 2): {3}}))
    assert back["a"].dtype == np.int16 and np.array_equal(back["a"], a) and back[(1, 2)] == {3}
    assert pyon.decode("{'n': (1, -2), 'f': Fraction(1, 3)}") == {"n": (1, -2), "f": Fraction(1, 3)}


def test_importing_pyon_loads_no_analysis_machinery():
    """The simulator imports ``comms.pyon`` at start-up: that must not pull in scipy, h5py, the
    estimators of ``analysis`` or the network code of ``comms``."""
    code = (
        "import sys, comms.pyon; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'h5py', 'matplotlib')"
        " or m.split('.')[0] in ('analysis', 'asyncio')"
        " or m.startswith('comms.') and m != 'comms.pyon'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert out.stdout.strip() == "[]"
