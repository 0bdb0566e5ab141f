# SPDX-License-Identifier: LGPL-3.0-or-later
"""Applet: the herald rate over lab time with its 95 % interval (``live.trace.*``)."""

from __future__ import annotations

from typing import Any

from applets.simple import TitleApplet
from applets.traces import BandPlot, add_datasets
from drivers.live import RATE, RATE_HI, RATE_LO, T_LAB

__all__ = ["HeraldRatePlot", "make_applet", "main"]


class HeraldRatePlot(BandPlot):
    """Heralds per second of lab time, with the Garwood band."""

    y_label = "herald rate"
    y_unit = "Hz"


def make_applet() -> Any:
    """The applet (ARTIQ's ``TitleApplet`` where installed)."""
    applet = TitleApplet(HeraldRatePlot, cmd_description="herald rate over lab time")
    add_datasets(
        applet,
        {
            "t": (T_LAB, "lab time of each update, s"),
            "value": (RATE, "herald rate, Hz"),
            "lo": (RATE_LO, "lower end of its interval"),
            "hi": (RATE_HI, "upper end of its interval"),
        },
    )
    return applet


def main() -> None:
    """Run standalone or embedded."""
    make_applet().run()


if __name__ == "__main__":
    main()
