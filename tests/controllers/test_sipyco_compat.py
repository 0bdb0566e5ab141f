# SPDX-License-Identifier: LGPL-3.0-or-later
"""What sipyco's own pc_rpc server needs of a controller: it describes every public method
(``get_rpc_method_list``, used by ``artiq_rpctool``) by the ``__name__`` of each annotation, so
a string annotation (``from __future__ import annotations``), a union or ``-> None`` breaks it.
The controllers run on sipyco's server wherever sipyco is installed (a lab's ARTIQ). The second
test runs the real sipyco client and server where sipyco is importable (``/opt/artiq-venv``)."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import threading

import pytest

from drivers.controllers.timetagger import TimeTagger, endpoints
from drivers.controllers.waveplates import SimulatedMounts, Waveplates

from .conftest import free_port


def _public(obj):
    return [(n, m) for n, m in inspect.getmembers(obj, callable) if not n.startswith("_")]


@pytest.mark.parametrize("cls", [Waveplates, TimeTagger])
def test_every_method_is_describable_by_sipyco(cls):
    for name, method in _public(cls):
        spec = inspect.getfullargspec(method)
        for arg, ann in spec.annotations.items():
            assert hasattr(ann, "__name__"), f"{cls.__name__}.{name}: annotation of {arg}: {ann!r}"
        assert inspect.getdoc(method), f"{cls.__name__}.{name} is not documented"


@pytest.mark.artiq
@pytest.mark.skipif(importlib.util.find_spec("sipyco") is None, reason="needs sipyco")
def test_real_sipyco_serves_and_calls_the_controllers():
    from sipyco import pc_rpc

    port, stream, feed = free_port(), free_port(), free_port()
    tagger = TimeTagger(endpoints(["127.0.0.1"], stream), endpoints(["127.0.0.1"], feed))
    targets = {"waveplates": Waveplates(SimulatedMounts()), "timetagger": tagger}
    loop = asyncio.new_event_loop()
    server = pc_rpc.Server(targets, builtin_terminate=True)

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start("127.0.0.1", port))
        loop.run_until_complete(server.wait_terminate())
        loop.run_until_complete(server.stop())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    from comms.server import wait_for_server

    wait_for_server("127.0.0.1", port, 10)
    try:
        c = pc_rpc.Client("127.0.0.1", port, "waveplates", timeout=5)
        assert c.ping() and c.move_to("a.hwp", 10.0) > 0
        assert set(c.get_rpc_method_list()["methods"]) >= {"move_to", "ping", "close"}
        t = pc_rpc.Client("127.0.0.1", port, "timetagger", timeout=5)
        assert t.ping() and t.set_dead_time(1, 3000) == 3000
        assert "set_trigger_level" in t.get_rpc_method_list()["methods"]
        t.terminate()
    finally:
        thread.join(10)
        tagger.close()
