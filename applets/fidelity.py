# SPDX-License-Identifier: LGPL-3.0-or-later
"""Applet: the running fidelity estimate over lab time with its 95 % interval."""

from __future__ import annotations

from typing import Any

import numpy as np

from applets.simple import TitleApplet
from applets.traces import BandPlot, add_datasets
from drivers.live import FID, FID_HI, FID_LO, T_LAB

__all__ = ["FidelityPlot", "make_applet", "main"]


class FidelityPlot(BandPlot):
    """Running F with its normal-approximation band."""

    y_label = "fidelity"

    def __init__(self, args: Any, req: Any = None):
        super().__init__(args, req)
        self.setYRange(0.0, 1.05)
        self.getPlotItem().enableAutoRange(axis="y", enable=False)

    def data_changed(
        self, value: dict, metadata: dict, persist: dict, mods: list, title: str | None = None
    ) -> None:
        """Redraw; the y axis spans [0, 1.05] and widens to show an estimate outside it (a
        running estimate from few heralds can exceed 1: it is shown, not clipped)."""
        super().data_changed(value, metadata, persist, mods, title)
        y = self.curve.getData()[1]
        if y is not None and len(y):
            top = max(1.05, 1.02 * float(np.max(y)))
            self.setYRange(min(0.0, float(np.min(y))), top, padding=0)


def make_applet() -> Any:
    """The applet (ARTIQ's ``TitleApplet`` where installed)."""
    applet = TitleApplet(FidelityPlot, cmd_description="running fidelity over lab time")
    add_datasets(
        applet,
        {
            "t": (T_LAB, "lab time of each update, s"),
            "value": (FID, "fidelity estimate"),
            "lo": (FID_LO, "lower end of its interval"),
            "hi": (FID_HI, "upper end of its interval"),
        },
    )
    return applet


def main() -> None:
    """Run standalone or embedded."""
    make_applet().run()


if __name__ == "__main__":
    main()
