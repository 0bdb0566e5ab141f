# SPDX-License-Identifier: LGPL-3.0-or-later
"""Applet: histogram of the heralding photons' arrival times (1 ns bins, after the gate
reference) with the detection gate shaded. Arrivals are added bin by bin as they are appended."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg

from applets.simple import TitleApplet
from applets.traces import PEN, Traces, add_datasets
from drivers.live import ARRIVAL, GATE

__all__ = ["ArrivalHistogram", "make_applet", "main", "BIN_NS"]

#: histogram bin width, ns
BIN_NS = 1.0


class ArrivalHistogram(pg.PlotWidget):
    """Clicks per 1 ns bin against arrival time; the gate as a shaded region."""

    def __init__(self, args: Any, req: Any = None):
        super().__init__()
        self.args = args
        self.traces = Traces([args.arrivals])
        self.counts = np.zeros(0)
        self.used = 0  # arrivals already binned
        self.curve = self.plot(
            [0.0], [], stepMode="center", pen=PEN, fillLevel=0, brush=(255, 170, 0, 90)
        )
        self.gate = pg.LinearRegionItem((0, 0), movable=False, brush=(80, 160, 255, 50))
        self.gate.setVisible(False)
        self.addItem(self.gate)
        self.setLabel("bottom", "arrival after the gate reference", units="ns")
        self.setLabel("left", "clicks per ns")
        self.gate_ns: tuple[float, float] | None = None

    def _add(self, arrivals: np.ndarray) -> None:
        new = arrivals[self.used :]
        new = new[np.isfinite(new) & (new >= 0)]
        self.used = len(arrivals)
        if not len(new):
            return
        idx = np.floor(new / BIN_NS).astype(np.int64)
        if idx.max() >= len(self.counts):
            self.counts = np.concatenate(
                [self.counts, np.zeros(int(idx.max()) + 1 - len(self.counts))]
            )
        np.add.at(self.counts, idx, 1)

    def data_changed(
        self, value: dict, metadata: dict, persist: dict, mods: list, title: str | None = None
    ) -> None:
        """ARTIQ's applet callback."""
        old_len = len(self.traces[self.args.arrivals])
        if self.traces.update(value, mods):
            arrivals = self.traces[self.args.arrivals]
            if len(arrivals) < old_len or len(arrivals) < self.used:  # set anew: start over
                self.counts, self.used = np.zeros(0), 0
            self._add(arrivals)
            edges = np.arange(len(self.counts) + 1) * BIN_NS
            self.curve.setData(edges, self.counts)
        gate = value.get(self.args.gate)
        if gate is not None and len(gate) == 2 and all(math.isfinite(g) for g in gate):
            gate_ns = (float(gate[0]), float(gate[1]))
            if gate_ns != self.gate_ns:
                self.gate_ns = gate_ns
                self.gate.setRegion(gate_ns)
                self.gate.setVisible(True)
        self._frame()
        if title is not None:
            self.setTitle(title)

    def _frame(self) -> None:
        """Show the clicks and the gate, not the empty bins from 0 ns."""
        nonzero = np.flatnonzero(self.counts)
        ends = [] if not len(nonzero) else [nonzero[0] * BIN_NS, (nonzero[-1] + 1) * BIN_NS]
        if self.gate_ns is not None:
            ends += list(self.gate_ns)
        if ends:
            lo, hi = min(ends), max(ends)
            pad = 0.15 * (hi - lo) + 2 * BIN_NS
            self.setXRange(lo - pad, hi + pad, padding=0)


def make_applet() -> Any:
    """The applet (ARTIQ's ``TitleApplet`` where installed)."""
    applet = TitleApplet(ArrivalHistogram, cmd_description="photon arrival histogram")
    add_datasets(
        applet,
        {
            "arrivals": (ARRIVAL, "arrival times, ns (a list appended to)"),
            "gate": (GATE, "[start, stop) of the detection gate, ns"),
        },
    )
    return applet


def main() -> None:
    """Run standalone or embedded."""
    make_applet().run()


if __name__ == "__main__":
    main()
