# SPDX-License-Identifier: LGPL-3.0-or-later
"""Applet: heralds of each Bell state, ψ⁺ and ψ⁻, as two bars with their counts."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

from applets.simple import TitleApplet
from applets.traces import add_datasets
from drivers.live import PSI_MINUS, PSI_PLUS

__all__ = ["PsiCounts", "make_applet", "main"]

_BRUSHES = (pg.mkBrush(80, 160, 255), pg.mkBrush(255, 110, 90))


class PsiCounts(pg.PlotWidget):
    """Two bars: heralded ψ⁺ and ψ⁻ counts."""

    def __init__(self, args: Any, req: Any = None):
        super().__init__()
        self.args = args
        self.counts = [0.0, 0.0]
        self.bars = pg.BarGraphItem(x=[0, 1], height=[0, 0], width=0.6, brushes=list(_BRUSHES))
        self.addItem(self.bars)
        self.getAxis("bottom").setTicks([[(0, "ψ⁺"), (1, "ψ⁻")]])
        self.setLabel("left", "heralds")
        self.setXRange(-0.6, 1.6)
        self.labels = [pg.TextItem(anchor=(0.5, 1.0)) for _ in range(2)]
        for label in self.labels:
            self.addItem(label)

    def data_changed(
        self, value: dict, metadata: dict, persist: dict, mods: list, title: str | None = None
    ) -> None:
        """ARTIQ's applet callback."""
        counts = []
        for key in (self.args.plus, self.args.minus):
            try:
                counts.append(float(value.get(key, 0.0)))
            except (TypeError, ValueError):
                counts.append(0.0)
        if counts != self.counts:
            self.counts = counts
            self.bars.setOpts(height=counts)
            for i, (label, n) in enumerate(zip(self.labels, counts)):
                label.setText("{:.0f}".format(n))
                label.setPos(i, n)
            self.setYRange(0, max(1.0, max(counts)) * 1.15)
        if title is not None:
            self.setTitle(title)


def make_applet() -> Any:
    """The applet (ARTIQ's ``TitleApplet`` where installed)."""
    applet = TitleApplet(PsiCounts, cmd_description="heralded ψ⁺/ψ⁻ counts")
    add_datasets(
        applet,
        {"plus": (PSI_PLUS, "ψ⁺ heralds"), "minus": (PSI_MINUS, "ψ⁻ heralds")},
    )
    return applet


def main() -> None:
    """Run standalone or embedded."""
    make_applet().run()


if __name__ == "__main__":
    main()
