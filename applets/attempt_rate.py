# SPDX-License-Identifier: LGPL-3.0-or-later
"""Applet: attempt rate (attempts per second of lab time) and the loop's duty cycle over lab
time, two plots sharing the time axis."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

from applets.simple import TitleApplet
from applets.traces import PEN, Traces, add_datasets, finite_xy
from drivers.live import ATTEMPT_RATE, DUTY, T_LAB

__all__ = ["AttemptRatePlots", "make_applet", "main"]


class AttemptRatePlots(pg.GraphicsLayoutWidget):
    """Attempt rate (top) and duty cycle (bottom) against lab time."""

    def __init__(self, args: Any, req: Any = None):
        super().__init__()
        self.args = args
        self.traces = Traces([args.t, args.rate, args.duty])
        self.rate_plot = self.addPlot(row=0, col=0)
        self.rate_plot.setLabel("left", "attempt rate", units="Hz")
        self.rate_plot.showGrid(x=True, y=True, alpha=0.3)
        self.duty_plot = self.addPlot(row=1, col=0)
        self.duty_plot.setLabel("left", "duty cycle")
        self.duty_plot.setLabel("bottom", "lab time", units="s")
        self.duty_plot.setXLink(self.rate_plot)
        self.duty_plot.setYRange(0.0, 1.0)
        self.duty_plot.enableAutoRange(axis="y", enable=False)
        self.duty_plot.showGrid(x=True, y=True, alpha=0.3)
        self.rate_curve = self.rate_plot.plot([], [], pen=PEN)
        self.duty_curve = self.duty_plot.plot([], [], pen=pg.mkPen((80, 160, 255), width=2))

    def data_changed(
        self, value: dict, metadata: dict, persist: dict, mods: list, title: str | None = None
    ) -> None:
        """ARTIQ's applet callback."""
        if self.traces.update(value, mods):
            a = self.args
            self.rate_curve.setData(*finite_xy(self.traces[a.t], self.traces[a.rate]))
            self.duty_curve.setData(*finite_xy(self.traces[a.t], self.traces[a.duty]))
        if title is not None:
            self.rate_plot.setTitle(title)


def make_applet() -> Any:
    """The applet (ARTIQ's ``TitleApplet`` where installed)."""
    applet = TitleApplet(AttemptRatePlots, cmd_description="attempt rate and duty cycle")
    add_datasets(
        applet,
        {
            "t": (T_LAB, "lab time of each update, s"),
            "rate": (ATTEMPT_RATE, "attempts per second of lab time"),
            "duty": (DUTY, "fraction of lab time in attempt cycles"),
        },
    )
    return applet


def main() -> None:
    """Run standalone or embedded."""
    make_applet().run()


if __name__ == "__main__":
    main()
