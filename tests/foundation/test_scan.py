# SPDX-License-Identifier: LGPL-3.0-or-later
"""Scan objects: exact sequences, re-iteration, Scannable processing, MultiScanManager product."""

from __future__ import annotations

import pytest
from artiq.experiment import (
    CenterScan,
    DefaultMissing,
    ExplicitScan,
    MultiScanManager,
    NoScan,
    RangeScan,
    Scannable,
)


def test_range_scan():
    """start + i*dx, 1 point → [start], 0 points → []."""
    assert list(RangeScan(0, 1, 5)) == [0, 0.25, 0.5, 0.75, 1.0]
    assert list(RangeScan(3, 9, 1)) == [3]
    assert list(RangeScan(3, 9, 0)) == []
    scan = RangeScan(0, 10, 11, randomize=True, seed=1)
    assert sorted(scan) == list(RangeScan(0, 10, 11)) and list(scan) == list(scan)
    assert len(scan) == 11


def test_center_scan():
    """Centre first, then alternately below and above, outward."""
    assert list(CenterScan(10, 4, 1)) == [10, 9, 11, 8, 12]
    assert list(CenterScan(10, 4, 0)) == []
    assert len(CenterScan(0, 1, 1)) == 1


def test_no_and_explicit_scan():
    """NoScan repeats its value; ExplicitScan gives its sequence."""
    assert list(NoScan(2.5, 3)) == [2.5, 2.5, 2.5]
    assert list(ExplicitScan([3, 1, 2])) == [3, 1, 2]
    assert NoScan(1).describe() == {"ty": "NoScan", "value": 1, "repetitions": 1}


def test_scannable():
    """Scannable builds the described scan; list default → first element."""
    s = Scannable(default=[RangeScan(0, 1, 3), NoScan(0.5)], unit="ms")
    assert isinstance(s.default(), RangeScan) and s.scale == 1e-3
    scan = s.process({"ty": "CenterScan", "center": 1, "span": 2, "step": 1, "junk": 0})
    assert list(scan) == [1, 0, 2]
    assert s.describe()["default"][1] == {"ty": "NoScan", "value": 0.5, "repetitions": 1}
    with pytest.raises(DefaultMissing):
        Scannable().default()


def test_multi_scan_manager_is_cartesian_product():
    """Points iterate the product, the last scan fastest."""
    points = [
        (p.a, p.b)
        for p in MultiScanManager(("a", ExplicitScan([1, 2])), ("b", ExplicitScan([3, 4])))
    ]
    assert points == [(1, 3), (1, 4), (2, 3), (2, 4)]
