# SPDX-License-Identifier: LGPL-3.0-or-later
"""benchmarks/function_instructions.py: the wrapped function runs inside ``functools.reduce``
(what callgrind's ``--toggle-collect=functools_reduce`` counts) once per outermost call, with its
arguments and result, and a recursive call does not enter ``reduce`` again (a nested toggle would
switch the collection off inside the function)."""

import functools
import importlib.util
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "function_instructions", ROOT / "benchmarks" / "function_instructions.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_outermost_call_inside_reduce(monkeypatch):
    target = types.ModuleType("fi_target")

    def depth_sum(n, scale=1):
        """(n + (n-1) + ... + 0) times ``scale``, recursively through the module attribute."""
        return 0 if n == 0 else scale * n + target.depth_sum(n - 1, scale)

    target.depth_sum = depth_sum
    monkeypatch.setitem(sys.modules, "fi_target", target)
    calls = []
    real_reduce = functools.reduce

    def counting_reduce(f, it):
        calls.append(1)
        return real_reduce(f, it)

    monkeypatch.setattr(functools, "reduce", counting_reduce)
    n_calls = _tool().wrap_in_reduce("fi_target", "depth_sum")
    assert target.depth_sum(3, scale=2) == 12
    assert target.depth_sum(1) == 1
    assert n_calls() == 2  # outermost calls only
    assert len(calls) == 2  # one reduce per outermost call, none for the recursion
