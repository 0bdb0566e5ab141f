# SPDX-License-Identifier: LGPL-3.0-or-later
"""The master's live dataset store: every change of the simulator's store reaches the
``datasets`` notifier as the mod ARTIQ's master would publish, copied when made; RPC targets keep
their signatures and docstrings for sipyco's introspection without their annotations."""

from __future__ import annotations

import numpy as np

from comms.rpc_surface import rpc_surface
from comms.sync_struct import Notifier, process_mod
from sim.datasets import DatasetDB, DatasetManager
from sim.master.ccb import apply_ccb
from sim.master.live_store import LiveDatasetDB


def test_changes_become_mods_of_the_mirror():
    posted: list[dict] = []
    live = LiveDatasetDB(DatasetDB(None), posted.append)
    live.set("old", 1.0, persist=True)
    mirror = Notifier(live.snapshot())
    seen: list[dict] = []
    mirror.publish = seen.append
    posted.clear()
    mgr = DatasetManager(live)
    mgr.set("live.trace", [], {}, broadcast=True, persist=False, archive=False)
    mgr.append_to("live.trace", 1.5)
    mgr.set("arr", np.zeros(3), {"unit": "Hz"}, broadcast=True, persist=False, archive=True)
    mgr.mutate("arr", 1, 7.0)
    mgr.append_to("live.trace", 2.5)  # after the first append was posted: that one stays 1 item
    live.update({"action": "append", "path": ["live.trace", 1], "x": 3.5})  # an applet's RPC
    live.delete("old")
    assert [m["action"] for m in posted] == [
        "setitem",
        "append",
        "setitem",
        "setitem",
        "append",
        "append",
        "delitem",
    ]
    assert posted[0]["value"] == (False, [], {}), "the set is copied when made"
    assert posted[3] == {"action": "setitem", "path": ["arr", 1], "key": 1, "value": 7.0}
    for mod in posted:
        process_mod(mirror, mod)
    assert mirror.raw_view["live.trace"] == (False, [1.5, 2.5, 3.5], {})
    assert np.array_equal(mirror.raw_view["arr"][1], [0, 7, 0]) and "old" not in mirror.raw_view
    assert [m["action"] for m in seen] == [m["action"] for m in posted]
    assert live.get("live.trace") == [1.5, 2.5, 3.5]


def test_rpc_surface_strips_annotations():
    class Typed:
        """Typed target."""

        def f(self, a: int | None = None, *, b: "str" = "x") -> dict[str, int]:
            """Doc of f."""
            return {"a": a, "b": b}

    surface = rpc_surface(Typed())
    import inspect

    spec = inspect.getfullargspec(surface.f)
    assert spec.args == ["a"] and spec.kwonlyargs == ["b"] and spec.annotations == {}
    assert surface.f(2, b="y") == {"a": 2, "b": "y"} and surface.f.__doc__ == "Doc of f."
    assert surface.__doc__ == "Typed target."


def test_ccb_applet_table():
    table: dict = {}
    assert apply_ccb(table, {"service": "create_applet", "args": ["a", "c1"], "kwargs": {}}) == "a"
    apply_ccb(table, {"service": "create_applet", "args": ["b", "c2", "g"], "kwargs": {}})
    apply_ccb(
        table,
        {
            "service": "create_applet",
            "args": [],
            "kwargs": {"name": "c", "command": "x", "group": "g"},
        },
    )
    assert (
        apply_ccb(table, {"service": "disable_applet_group", "args": ["g"], "kwargs": {}}) is None
    )
    assert table == {"a": {"command": "c1", "group": None}}
    apply_ccb(table, {"service": "disable_applet", "args": [], "kwargs": {"name": "a"}})
    assert table == {}
