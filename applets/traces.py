# SPDX-License-Identifier: LGPL-3.0-or-later
"""Pieces the applets share: list datasets followed incrementally from the master's mods, the
dataset options of an applet with ionlink's defaults, and the plot with a confidence band."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pyqtgraph as pg

__all__ = ["Traces", "BandPlot", "add_datasets", "PEN", "BAND_BRUSH"]

#: colours of the curves and bands (pyqtgraph's default dark background)
PEN = pg.mkPen((255, 170, 0), width=2)
BAND_BRUSH = pg.mkBrush(255, 170, 0, 70)
BAND_PEN = pg.mkPen(255, 170, 0, 110)


def add_datasets(applet: Any, datasets: dict[str, tuple[str, str]]) -> None:
    """Add optional dataset options ``--NAME`` (``{NAME: (default dataset, help)}``) to an
    applet (ARTIQ's ``add_dataset`` with ``required=False``), defaulting to ionlink's names."""
    for name, (default, help_text) in datasets.items():
        applet.add_dataset(name, "{} (default: {})".format(help_text, default), required=False)
        applet.argparser.set_defaults(**{name: default})


class Traces:
    """Numeric list datasets kept as numpy arrays, grown from ``append`` mods without reading
    the whole list again; any other change of a dataset rereads it."""

    def __init__(self, keys: Iterable[str]):
        self.keys = list(keys)
        self.arrays: dict[str, np.ndarray] = {k: np.zeros(0) for k in self.keys}

    def update(self, value: dict, mods: list[dict]) -> bool:
        """Follow ``mods`` (``value``: the datasets after them); True if an array changed."""
        changed = False
        for key in self.keys:
            touching = [m for m in mods if _touches(m, key)]
            if not touching:
                continue
            changed = True
            current = value.get(key)
            appended = [
                m["x"] for m in touching if m["action"] == "append" and m["path"] == [key, 1]
            ]
            old = self.arrays[key]
            if (
                len(appended) == len(touching)
                and current is not None
                and len(current) == len(old) + len(appended)
            ):
                self.arrays[key] = np.concatenate([old, np.asarray(appended, dtype=float)])
            else:
                self.arrays[key] = _as_array(current)
        return changed

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


def _touches(mod: dict, key: str) -> bool:
    if mod["action"] == "init":
        return True
    path = mod.get("path") or []
    return path[:1] == [key] or (not path and mod.get("key") == key)


def _as_array(value: Any) -> np.ndarray:
    if value is None:
        return np.zeros(0)
    try:
        return np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        return np.zeros(0)


def finite_xy(x: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """``x`` and ``ys`` cut to their common length, keeping points where all are finite."""
    n = min([len(x)] + [len(y) for y in ys])
    arrays = [x[:n]] + [y[:n] for y in ys]
    keep = np.ones(n, dtype=bool)
    for a in arrays:
        keep &= np.isfinite(a)
    return tuple(a[keep] for a in arrays)


class BandPlot(pg.PlotWidget):
    """A value over lab time with its interval as a band (herald rate, running fidelity).

    ``args`` names the datasets: ``t``, ``value``, ``lo``, ``hi``."""

    y_label = ""
    y_unit = ""

    def __init__(self, args: Any, req: Any = None):
        super().__init__()
        self.args = args
        self.traces = Traces([args.t, args.value, args.lo, args.hi])
        self.setLabel("bottom", "lab time", units="s")
        self.setLabel("left", self.y_label, units=self.y_unit)
        self.showGrid(x=True, y=True, alpha=0.3)
        self.lo_curve = self.plot([], [], pen=BAND_PEN)
        self.hi_curve = self.plot([], [], pen=BAND_PEN)
        self.band = pg.FillBetweenItem(self.lo_curve, self.hi_curve, brush=BAND_BRUSH)
        self.addItem(self.band)
        self.curve = self.plot([], [], pen=PEN)

    def data_changed(
        self, value: dict, metadata: dict, persist: dict, mods: list, title: str | None = None
    ) -> None:
        """ARTIQ's applet callback: redraw from the traces."""
        if not self.traces.update(value, mods):
            return
        a = self.args
        t, y = finite_xy(self.traces[a.t], self.traces[a.value])
        self.curve.setData(t, y)
        tb, lo, hi = finite_xy(self.traces[a.t], self.traces[a.lo], self.traces[a.hi])
        self.lo_curve.setData(tb, lo)
        self.hi_curve.setData(tb, hi)
        if title is not None:
            self.setTitle(title)
