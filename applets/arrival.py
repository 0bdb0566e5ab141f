# SPDX-License-Identifier: LGPL-3.0-or-later
"""Applet: histogram of the heralding photons' arrival times (1 ns bins, after the gate
reference) with the detection gate shaded. The experiment publishes the counts per bin
(``live.arrival_hist``); the applet draws them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg

from applets.simple import TitleApplet
from applets.traces import PEN, Traces, add_datasets
from drivers.live import ARRIVAL, ARRIVAL_BIN_NS, GATE

__all__ = ["ArrivalHistogram", "make_applet", "main", "BIN_NS"]

#: histogram bin width, ns (the experiment's)
BIN_NS = ARRIVAL_BIN_NS


class ArrivalHistogram(pg.PlotWidget):
    """Clicks per 1 ns bin against arrival time; the gate as a shaded region."""

    def __init__(self, args: Any, req: Any = None):
        super().__init__()
        self.args = args
        self.traces = Traces([args.arrivals])
        self.counts = np.zeros(0)
        self.curve = self.plot(
            [0.0], [], stepMode="center", pen=PEN, fillLevel=0, brush=(255, 170, 0, 90)
        )
        self.gate = pg.LinearRegionItem((0, 0), movable=False, brush=(80, 160, 255, 50))
        self.gate.setVisible(False)
        self.addItem(self.gate)
        self.setLabel("bottom", "arrival after the gate reference", units="ns")
        self.setLabel("left", "clicks per ns")
        self.gate_ns: tuple[float, float] | None = None

    def data_changed(
        self, value: dict, metadata: dict, persist: dict, mods: list, title: str | None = None
    ) -> None:
        """ARTIQ's applet callback."""
        if self.traces.update(value, mods):
            self.counts = np.asarray(self.traces[self.args.arrivals], dtype=float)
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
            "arrivals": (ARRIVAL, "clicks per 1 ns bin after the gate reference (a list)"),
            "gate": (GATE, "[start, stop) of the detection gate, ns"),
        },
    )
    return applet


def main() -> None:
    """Run standalone or embedded."""
    make_applet().run()


if __name__ == "__main__":
    main()
