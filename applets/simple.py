# SPDX-License-Identifier: LGPL-3.0-or-later
"""The applet base class the applets use: ARTIQ's ``artiq.applets.simple.TitleApplet`` where
ARTIQ is installed (so its dashboard can embed them), else ionlink's own
(:class:`applets.standalone.TitleApplet`), which has the same interface."""

from __future__ import annotations

from typing import Any

__all__ = ["TitleApplet", "applet_base"]


def applet_base() -> Any:
    """ARTIQ's ``TitleApplet`` if importable, else ionlink's."""
    try:
        from artiq.applets.simple import (  # type: ignore[import-not-found]
            TitleApplet as ArtiqTitleApplet,
        )
    except ImportError:  # no ARTIQ, or the simulator's stand-in (which has no applets)
        from applets.standalone import TitleApplet as OwnTitleApplet

        return OwnTitleApplet
    return ArtiqTitleApplet


TitleApplet = applet_base()
