# SPDX-License-Identifier: LGPL-3.0-or-later
"""Replay the recorded ``live.*`` mods of a simulated run (``data/live_mods.pyon``, made by
``data/record_live_mods.py``) into an applet widget, as ARTIQ's ``TitleApplet`` feeds it, and
render it offscreen.

``PYTHONPATH=. QT_QPA_PLATFORM=offscreen python tests/applets/replay.py`` writes the README's
screenshot, ``docs/applets.png`` (the five applets after the whole run).
"""

from __future__ import annotations

import copy
import importlib
import pathlib
import sys
from typing import Any

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APPLETS = ("herald_rate", "psi_counts", "fidelity", "arrival", "attempt_rate")
SIZE = (480, 320)


def recorded_mods() -> list[dict]:
    """The recorded mods, in order (the first is ``init``)."""
    from comms import pyon

    lines = (HERE / "data" / "live_mods.pyon").read_text().splitlines()
    return [pyon.decode(line, v1_fallback=False) for line in lines]


def build(name: str, argv: list[str] | None = None) -> tuple[Any, Any]:
    """``(widget, feed)`` of applet module ``applets.<name>`` with the command-line ``argv``."""
    from applets.feed import AppletFeed

    applet = importlib.import_module("applets." + name).make_applet()
    args = applet.argparser.parse_args(["--title", name] if argv is None else argv)
    widget = applet.main_widget_class(args, None)
    datasets = {getattr(args, a) for a in applet.dataset_args}
    feed = AppletFeed(widget, datasets, args.title)
    widget.resize(*SIZE)
    return widget, feed


def replay(feed: Any, mods: list[dict]) -> dict:
    """Apply ``mods`` to the feed's data and notify it of each (as a subscription would). The
    mods are copied first: applying a ``setitem`` puts its value object into the data."""
    from comms.sync_struct import process_mod

    for mod in copy.deepcopy(mods):
        if mod["action"] == "init":
            feed.init(dict(mod["struct"]))
        else:
            process_mod(feed.data, mod)
        feed.on_mod(mod)
    return feed.data


def render(widget: Any) -> np.ndarray:
    """The widget as an RGB array (height, width, 3)."""
    from pyqtgraph.Qt import QtGui, QtWidgets

    widget.show()
    QtWidgets.QApplication.processEvents()
    image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    buffer = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint8)
    return buffer.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3)


def main() -> None:
    from pyqtgraph.Qt import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    titles = {
        "herald_rate": "Herald rate",
        "psi_counts": "Heralded ψ⁺/ψ⁻",
        "fidelity": "Running fidelity",
        "arrival": "Photon arrival",
        "attempt_rate": "Attempt rate, duty cycle",
    }
    mods = recorded_mods()
    tiles = []
    for name in APPLETS:
        widget, feed = build(name, ["--title", titles[name]])
        replay(feed, mods)
        tiles.append(render(widget))
    blank = np.zeros_like(tiles[0])
    rows = [np.hstack(tiles[:3]), np.hstack(tiles[3:] + [blank])]
    from matplotlib.image import imsave

    imsave(ROOT / "docs" / "applets.png", np.vstack(rows))
    app.quit()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
