# SPDX-License-Identifier: LGPL-3.0-or-later
"""Constant folding of unit expressions in kernels (:mod:`sim.kernel_fold`): folded values are
bit-identical, and a name that is not (or may not stay) ARTIQ's unit is never folded."""

from __future__ import annotations

import importlib
import sys
import traceback

from artiq.experiment import MHz, kHz, ms, ns, us

from sim.kernel import transform_function

GHz = 1e9  # this module's own value, not the units' object


def constants():
    return 1 * us, 2.5 * us + 3 * ns, -us, 1 / 3 * MHz, 7 * ms / 3, us


def lambda_binds_us():
    def scaled(us):
        return 3 * us

    return scaled(2.0), 1 * us


def comprehension_binds_us():
    return [3 * us for us in (2.0,)], 1 * us


def reads_retuned_khz():
    return 1 * kHz


def retune_khz():
    global kHz
    kHz = 2e3


def reads_own_ghz():
    return 2 * GHz


def raises_after_fold():
    x = 1 * us
    raise ValueError(x)


def make_counter():
    count = 0

    def tick():
        nonlocal count
        count += 1
        return count * us

    def value():
        return count

    return tick, value


class _Base:
    def scale(self):
        return 2.0


class Child(_Base):
    def scaled(self, n=3):
        return n * super().scale() * us


def _bits(values):
    return [v.hex() if isinstance(v, float) else [x.hex() for x in v] for v in values]


def test_unit_expressions_folded_bit_identical():
    folded = transform_function(constants)
    assert folded is not constants
    assert not {"us", "ns", "MHz", "ms"} & set(folded.__code__.co_names)
    assert _bits(folded()) == _bits(constants())


def test_method_with_super_and_defaults_folded():
    folded = transform_function(Child.scaled)
    assert folded is not Child.scaled
    assert "us" not in folded.__code__.co_names
    assert folded.__qualname__ == Child.scaled.__qualname__
    assert folded.__defaults__ == (3,)
    assert folded(Child()).hex() == Child().scaled().hex()


def test_closure_keeps_its_cells():
    tick, value = make_counter()
    folded = transform_function(tick)
    assert "us" not in folded.__code__.co_names
    assert folded() == 1e-06
    assert value() == 1


def test_name_bound_in_a_nested_scope_not_folded():
    assert transform_function(lambda_binds_us)() == (6.0, 1e-06)
    assert transform_function(comprehension_binds_us)() == ([6.0], 1e-06)


def test_name_a_global_statement_may_rebind_not_folded():
    assert transform_function(reads_retuned_khz) is reads_retuned_khz


def test_name_not_the_units_object_not_folded():
    assert transform_function(reads_own_ghz) is reads_own_ghz


def test_folded_function_keeps_its_lines():
    try:
        transform_function(raises_after_fold)()
    except ValueError as exc:
        line = traceback.extract_tb(exc.__traceback__)[-1].lineno
    assert line == raises_after_fold.__code__.co_firstlineno + 2


def test_changed_source_not_folded(tmp_path, monkeypatch):
    path = tmp_path / "edited_kernel_module.py"
    source = "from artiq.experiment import us\n\n\ndef duration():\n    return {} * us\n"
    path.write_text(source.format(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_kernel_module")
    try:
        path.write_text(
            "from artiq.experiment import us\n\n\ndef duration():\n    return 10 * us\n"
        )
        host = transform_function(module.duration)
        assert host is module.duration
        assert host() == 1e-06
    finally:
        sys.modules.pop("edited_kernel_module", None)
