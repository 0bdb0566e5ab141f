# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.language.scan``: scan objects and the ``Scannable`` argument processor.

Sequences follow ARTIQ 9: ``RangeScan`` yields ``start + i*(stop-start)/(npoints-1)``;
``CenterScan`` yields the centre, then alternately ``-step``/``+step`` outward, ``1 +
int(span/(2*step))`` rings; ``MultiScanManager`` iterates the Cartesian product of its scans.
"""

from __future__ import annotations

import inspect
import random
from itertools import product
from typing import Any, Iterator

from artiq.language import units
from artiq.language.environment import DefaultMissing, NoDefault

__all__ = [
    "ScanObject",
    "NoScan",
    "RangeScan",
    "CenterScan",
    "ExplicitScan",
    "Scannable",
    "MultiScanManager",
]


class ScanObject:
    """A one-dimensional sweep. Iterating again yields the same values; iterators are
    independent."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError


class NoScan(ScanObject):
    """A single ``value``, repeated ``repetitions`` times."""

    def __init__(self, value: Any, repetitions: int = 1):
        self.value = value
        self.repetitions = repetitions

    def __iter__(self) -> Iterator:
        return (self.value for _ in range(self.repetitions))

    def __len__(self) -> int:
        return self.repetitions

    def describe(self) -> dict:
        return {"ty": "NoScan", "value": self.value, "repetitions": self.repetitions}


def _shuffled(sequence: list, randomize: bool, seed: Any) -> list:
    if randomize:
        random.Random(seed).shuffle(sequence)
    return sequence


class RangeScan(ScanObject):
    """``npoints`` evenly spaced points from ``start`` to ``stop`` inclusive (optionally
    shuffled)."""

    def __init__(
        self, start: float, stop: float, npoints: int, randomize: bool = False, seed: Any = None
    ):
        self.start = start
        self.stop = stop
        self.npoints = npoints
        self.randomize = randomize
        self.seed = seed
        if npoints == 1:
            sequence = [start]
        elif npoints <= 0:
            sequence = []
        else:
            dx = (stop - start) / (npoints - 1)
            sequence = [i * dx + start for i in range(npoints)]
        self.sequence = _shuffled(sequence, randomize, seed)

    def __iter__(self) -> Iterator:
        return iter(self.sequence)

    def __len__(self) -> int:
        return self.npoints

    def describe(self) -> dict:
        return {
            "ty": "RangeScan",
            "start": self.start,
            "stop": self.stop,
            "npoints": self.npoints,
            "randomize": self.randomize,
            "seed": self.seed,
        }


class CenterScan(ScanObject):
    """Points ``step`` apart within ``span`` around ``center``: centre first, then alternately
    below and above, moving outward. ``step == 0`` gives no points."""

    def __init__(
        self, center: float, span: float, step: float, randomize: bool = False, seed: Any = None
    ):
        self.center = center
        self.span = span
        self.step = step
        self.randomize = randomize
        self.seed = seed
        if step == 0.0:
            sequence: list = []
        else:
            n = 1 + int(span / (2.0 * step))
            sequence = [center + sign * i * step for i in range(n) for sign in (-1, 1)][1:]
        self.sequence = _shuffled(sequence, randomize, seed)

    def __iter__(self) -> Iterator:
        return iter(self.sequence)

    def __len__(self) -> int:
        return len(self.sequence)

    def describe(self) -> dict:
        return {
            "ty": "CenterScan",
            "center": self.center,
            "step": self.step,
            "span": self.span,
            "randomize": self.randomize,
            "seed": self.seed,
        }


class ExplicitScan(ScanObject):
    """The given sequence of values."""

    def __init__(self, sequence: list):
        self.sequence = sequence

    def __iter__(self) -> Iterator:
        return iter(self.sequence)

    def __len__(self) -> int:
        return len(self.sequence)

    def describe(self) -> dict:
        return {"ty": "ExplicitScan", "sequence": self.sequence}


_SCAN_TYPES = {
    "NoScan": NoScan,
    "RangeScan": RangeScan,
    "CenterScan": CenterScan,
    "ExplicitScan": ExplicitScan,
}


class Scannable:
    """Argument processor whose value is a scan object.

    ``default`` may be a list of scans; the first is the default. ``process`` builds the scan class
    named by ``d["ty"]`` from the keys of ``d`` that match its constructor arguments.
    """

    def __init__(
        self,
        default: Any = NoDefault,
        unit: str = "",
        *,
        scale: float | None = None,
        global_step: float | None = None,
        global_min: float | None = None,
        global_max: float | None = None,
        precision: int = 2,
        ndecimals: int | None = None,
    ):
        if ndecimals is not None:
            import warnings

            warnings.warn("'ndecimals' is deprecated, use 'precision'", DeprecationWarning)
            precision = ndecimals
        if scale is None:
            if unit == "":
                scale = 1.0
            else:
                try:
                    scale = getattr(units, unit)
                except AttributeError:
                    raise KeyError(
                        "Unit {} is unknown, you must specify the scale manually".format(unit)
                    ) from None
        if global_step is None:
            global_step = scale / 10.0
        if default is not NoDefault:
            self.default_values = default if isinstance(default, list) else [default]
        self.unit = unit
        self.scale = scale
        self.global_step = global_step
        self.global_min = global_min
        self.global_max = global_max
        self.precision = precision

    def default(self) -> ScanObject:
        if not hasattr(self, "default_values"):
            raise DefaultMissing
        return self.default_values[0]

    def process(self, x: dict) -> ScanObject:
        cls = _SCAN_TYPES[x["ty"]]
        names = list(inspect.signature(cls).parameters)
        return cls(**{name: x[name] for name in names if name in x})

    def describe(self) -> dict:
        desc: dict = {"ty": "Scannable"}
        if hasattr(self, "default_values"):
            desc["default"] = [scan.describe() for scan in self.default_values]
        desc.update(
            unit=self.unit,
            scale=self.scale,
            global_step=self.global_step,
            global_min=self.global_min,
            global_max=self.global_max,
            precision=self.precision,
        )
        return desc


class _ScanPoint:
    def __init__(self, **values: Any):
        self.attr = set()
        for key, value in values.items():
            setattr(self, key, value)
            self.attr.add(key)

    def __repr__(self) -> str:
        items = " ".join("{}={}".format(k, getattr(self, k)) for k in self.attr)
        return "<ScanPoint " + items + ">"


class MultiScanManager:
    """Iterate the Cartesian product of named scans: ``MultiScanManager(("a", scan_a), ("b",
    scan_b))``
    yields points with attributes ``a`` and ``b`` (the last scan varies fastest)."""

    def __init__(self, *args: tuple):
        self.names = [a[0] for a in args]
        self.scan_objects = [a[1] for a in args]
        self.scan_point_cls = _ScanPoint

    def __iter__(self) -> Iterator:
        for values in product(*self.scan_objects):
            yield self.scan_point_cls(**dict(zip(self.names, values)))
