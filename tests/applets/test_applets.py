# SPDX-License-Identifier: LGPL-3.0-or-later
"""Each applet, fed the recorded ``live.*`` mods of a simulated run as ARTIQ's ``TitleApplet``
feeds it, draws offscreen: the picture is not blank, the curves hold the datasets' values (also
halfway through the run, and when mods arrive batched), and the drawn curve passes through the
pixels where its data points lie."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import replay
from pyqtgraph.Qt import QtCore

from applets.feed import AppletFeed
from applets.host import AppletHost, parse_command
from drivers import live

ORANGE = (255, 170, 0)
BLUE = (80, 160, 255)
RED = (255, 110, 90)


@pytest.fixture(scope="module")
def mods():
    recorded = replay.recorded_mods()
    assert recorded[0]["action"] == "init" and len(recorded) > 50
    return recorded


_FINAL: dict[int, dict] = {}


def _final(mods, key):
    """The value of dataset ``key`` after ``mods`` (applied to a plain copy, once per list)."""
    from comms.sync_struct import process_mod

    if len(mods) not in _FINAL:
        data: dict = {}
        for mod in copy.deepcopy(mods):
            if mod["action"] == "init":
                data = dict(mod["struct"])
            else:
                process_mod(data, mod)
        _FINAL[len(mods)] = data
    return _FINAL[len(mods)][key][1]


def _finite(*arrays):
    a = [np.asarray(x, dtype=float) for x in arrays]
    keep = np.logical_and.reduce([np.isfinite(x) for x in a])
    return [x[keep] for x in a]


def _not_blank(image: np.ndarray) -> None:
    colours = np.unique(image.reshape(-1, 3), axis=0)
    background = np.all(image == image[2, 2], axis=2)
    assert len(colours) > 30 and background.mean() < 0.97, "blank picture"


def _near(image, xy, colour, radius=3, tol=60) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = image[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
    return bool(np.any(np.all(np.abs(patch.astype(int) - colour) <= tol, axis=2)))


def _pixel(view, plot_item, x, y):
    scene = plot_item.vb.mapViewToScene(QtCore.QPointF(float(x), float(y)))
    p = view.mapFromScene(scene)
    return p.x(), p.y()


def _draw(name, mods, qtbot):
    widget, feed = replay.build(name)
    qtbot.addWidget(widget)
    replay.replay(feed, mods)
    return widget, replay.render(widget)


@pytest.mark.parametrize(
    "name, keys",
    [
        ("herald_rate", (live.RATE, live.RATE_LO, live.RATE_HI)),
        ("fidelity", (live.FID, live.FID_LO, live.FID_HI)),
    ],
)
def test_band_plots_follow_the_data(name, keys, mods, qtbot):
    half = mods[: len(mods) // 2]
    for part in (half, mods):
        widget, image = _draw(name, part, qtbot)
        t = _final(part, live.T_LAB)
        tv, value = _finite(t, _final(part, keys[0]))
        x, y = widget.curve.getData()
        assert len(tv) >= 2 and np.array_equal(x, tv) and np.array_equal(y, value)
        tb, lo, hi = _finite(t, _final(part, keys[1]), _final(part, keys[2]))
        assert np.array_equal(widget.lo_curve.getData()[1], lo)
        assert np.array_equal(widget.hi_curve.getData()[1], hi)
        _not_blank(image)
        item = widget.getPlotItem()
        for i in (0, len(tv) // 2, len(tv) - 1):
            assert _near(image, _pixel(widget, item, tv[i], value[i]), ORANGE), (name, i)
    assert widget.getPlotItem().titleLabel.text == name


def test_batched_mods_draw_the_same(mods, qtbot):
    """With ``--update-delay`` the mods arrive in batches: same curves as one by one."""
    one, _ = _draw("herald_rate", mods, qtbot)
    widget, feed = replay.build("herald_rate")
    qtbot.addWidget(widget)
    pending = []
    batched = AppletFeed(
        widget, feed.datasets, feed.title_format, (), 1.0, lambda d, f: pending.append(f)
    )
    from comms.sync_struct import process_mod

    for i, mod in enumerate(copy.deepcopy(mods)):
        if mod["action"] == "init":
            batched.init(dict(mod["struct"]))
        else:
            process_mod(batched.data, mod)
        batched.on_mod(mod)
        if i % 37 == 0 and pending:
            pending.pop()()
    while pending:
        pending.pop()()
    for a, b in zip(one.curve.getData(), widget.curve.getData()):
        assert np.array_equal(a, b)


def test_psi_counts(mods, qtbot):
    widget, image = _draw("psi_counts", mods, qtbot)
    plus, minus = _final(mods, live.PSI_PLUS), _final(mods, live.PSI_MINUS)
    assert plus > 0 and minus > 0 and widget.counts == [plus, minus]
    _not_blank(image)
    item = widget.getPlotItem()
    assert _near(image, _pixel(widget, item, 0, plus / 2), BLUE, tol=20)
    assert _near(image, _pixel(widget, item, 1, minus / 2), RED, tol=20)
    assert not _near(image, _pixel(widget, item, 0, plus * 1.08), BLUE, radius=1, tol=20)


def test_arrival_histogram_with_gate(mods, qtbot):
    widget, image = _draw("arrival", mods, qtbot)
    expected = np.asarray(_final(mods, live.ARRIVAL))
    gate = _final(mods, live.GATE)
    assert np.array_equal(widget.counts, expected) and expected.sum() >= 80
    assert widget.gate.isVisible() and tuple(widget.gate.getRegion()) == tuple(gate)
    clicked = np.flatnonzero(expected)  # bin k: [k, k + 1) ns
    assert np.floor(gate[0]) <= clicked[0] and clicked[-1] < gate[1]
    _not_blank(image)
    peak = int(np.argmax(expected))
    item = widget.getPlotItem()
    assert _near(image, _pixel(widget, item, peak + 0.5, expected[peak]), ORANGE)
    xlo, xhi = item.vb.viewRange()[0]
    assert xlo < gate[0] < gate[1] < xhi and xhi - xlo < 3 * (gate[1] - gate[0]) + 10


def test_attempt_rate_and_duty_cycle(mods, qtbot):
    widget, image = _draw("attempt_rate", mods, qtbot)
    t = _final(mods, live.T_LAB)
    tr, rate = _finite(t, _final(mods, live.ATTEMPT_RATE))
    td, duty = _finite(t, _final(mods, live.DUTY))
    assert np.array_equal(widget.rate_curve.getData()[1], rate)
    assert np.array_equal(widget.duty_curve.getData()[1], duty)
    assert 1e5 < rate.mean() < 1e7 and 0.5 < duty.mean() < 1.0
    _not_blank(image)
    assert _near(image, _pixel(widget, widget.rate_plot, tr[-1], rate[-1]), ORANGE)
    assert _near(image, _pixel(widget, widget.duty_plot, td[-1], duty[-1]), BLUE)


def test_host_shows_the_applets_the_experiment_asks_for(mods, qtbot):
    host = AppletHost()
    qtbot.addWidget(host)
    data = host.datasets_init(copy.deepcopy(mods[0]["struct"]))
    for name, command in live.APPLETS:
        host.ccb(
            {"service": "create_applet", "args": (name, command), "kwargs": {"group": "ionlink"}}
        )
    assert len(host.applets) == 5 and all(a.widget is not None for a in host.applets.values())
    from comms.sync_struct import process_mod

    for mod in copy.deepcopy(mods[1:]):
        process_mod(data, mod)
        host.datasets_mod(mod)
    rate = host.applets["ionlink herald rate"].widget
    assert len(rate.curve.getData()[0]) >= 2
    assert rate.getPlotItem().titleLabel.text == "Herald rate"
    host.ccb({"service": "disable_applet_group", "args": ("ionlink",), "kwargs": {}})
    assert not host.applets


def test_parse_command():
    assert parse_command("${python} -m applets.arrival --title 'A b'") == (
        "applets.arrival",
        ["--title", "A b"],
    )
    assert parse_command("${artiq_applet}plot_xy y") is None
    assert math.isnan(live.fidelity_interval(math.nan, 0.1)[0])


@pytest.mark.parametrize(
    "f, sigma, expected",
    [
        (0.9, 0.01, (0.9 - 0.0196, 0.9 + 0.0196)),  # inside: f ± 1.96 σ
        (0.95, 0.05, (0.95 - 0.098, 1.0)),  # clipped to the physical range
        (1.08, 0.1, (1.08 - 0.196, 1.08)),  # an early estimate above 1 stays inside its band
        (-0.02, 0.1, (-0.02, -0.02 + 0.196)),
    ],
)
def test_live_fidelity_interval_contains_the_estimate(f, sigma, expected):
    lo, hi = live.fidelity_interval(f, sigma)
    assert lo == pytest.approx(expected[0], abs=1e-4) and hi == pytest.approx(expected[1], abs=1e-4)
    assert lo <= f <= hi
