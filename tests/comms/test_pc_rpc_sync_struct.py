# SPDX-License-Identifier: LGPL-3.0-or-later
"""Behaviour of ionlink's pc_rpc and sync_struct between their own servers and clients: calls,
remote exceptions, introspection, termination, reconnection, and structures kept in step."""

from __future__ import annotations

import asyncio
import socket
import threading

import numpy as np
import pytest

from comms import pc_rpc, sync_struct
from comms.backend import protocols
from comms.common_args import bind_address_from_args, simple_network_args


class Target:
    """A test target."""

    def add(self, a: int, b: int = 2) -> int:
        """a + b"""
        return a + b

    async def later(self, x):
        await asyncio.sleep(0)
        return {1: x}

    def fail(self):
        raise RuntimeError("broken")

    def _private(self):
        return "secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served():
    """A ``simple_server_loop`` in a thread on 127.0.0.1 and ::1 (stopped through
    ``terminate``); yields its port."""
    port = _free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=pc_rpc.simple_server_loop,
        args=({"t": Target()}, ["127.0.0.1", "::1"], port, "desc"),
        kwargs={"loop": loop},
        daemon=True,
    )
    thread.start()
    from comms.server import wait_for_server

    for host in ("127.0.0.1", "::1"):  # bound one after the other: wait for both
        wait_for_server(host, port, 5)
    yield port
    pc_rpc.Client("127.0.0.1", port, timeout=5).terminate()
    thread.join(5)
    assert not thread.is_alive()
    loop.close()


def test_client_calls_and_introspection(served):
    for host in ("127.0.0.1", "::1"):
        c = pc_rpc.Client(host, served, timeout=5)
        assert c.get_rpc_id() == (["t"], "desc")
        assert c.add(1) == 3 and c.add(1, b=5) == 6 and c.later(np.int64(4)) == {1: np.int64(4)}
        with pytest.raises(RuntimeError):
            c.fail()
        with pytest.raises(AttributeError):
            c._private()
        doc = c.get_rpc_method_list()
        assert doc["docstring"] == "A test target."
        assert set(doc["methods"]) == {"add", "later", "fail", "terminate"}
        spec, text = doc["methods"]["add"]
        assert spec["args"] == ["self", "a", "b"] and spec["defaults"] == (2,)
        assert spec["annotations"] == {"a": "int", "b": "int", "return": "int"} and text == "a + b"
        c.close_rpc()


def test_asyncio_client_and_target_selection(served):
    async def main():
        c = pc_rpc.AsyncioClient()
        await c.connect_rpc("::1", served, None)
        assert c.get_selected_target() is None
        await c.select_rpc_target("t")
        results = await asyncio.gather(*(c.add(i) for i in range(5)))
        await c.close_rpc()
        return results

    assert asyncio.run(main()) == [2, 3, 4, 5, 6]
    with pytest.raises(pc_rpc.IncompatibleServer):
        pc_rpc.Client("127.0.0.1", served, "absent", timeout=5)


def test_best_effort_client_survives_a_missing_server():
    port = _free_port()
    c = pc_rpc.BestEffortClient("127.0.0.1", port, "t", firstcon_timeout=0.2, retry=0.05)
    assert c.add(1) is None  # nothing listens: None, no exception
    c.close_rpc()


def test_client_gets_a_clear_error_when_the_server_talks_garbage():
    async def handler(reader, writer):
        await reader.readline()
        writer.write(b"this is not PYON\n")
        await writer.drain()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        def connect():
            with pytest.raises(ValueError):
                pc_rpc.Client("127.0.0.1", port, timeout=5)

        await asyncio.get_running_loop().run_in_executor(None, connect)
        server.close()

    asyncio.run(main())


def test_subscriber_follows_notifier():
    async def main():
        n = sync_struct.Notifier({"a": (False, [1], {})})
        pub = sync_struct.Publisher({"datasets": n})
        await pub.start(["127.0.0.1", "::1"], 0)
        copy: dict = {}
        seen: list = []
        done = asyncio.Event()

        def build(x):
            copy.clear()
            copy.update(x)
            return copy

        sub = sync_struct.Subscriber("datasets", build, seen.append, done.set)
        await sub.connect("::1", pub.port)
        while not seen:
            await asyncio.sleep(0.01)
        n["a"][1].append(2)
        n["a"][1].insert(0, 0)
        n["b"] = (True, np.zeros(3), {})
        n["b"][1][2] = 1.0
        n["a"][1].pop(1)
        sync_struct.update_from_dict(n, {"a": n.raw_view["a"], "c": (False, "x", {})})
        await asyncio.sleep(0.1)
        await pub.stop()
        await asyncio.wait_for(done.wait(), 5)
        return n.raw_view, copy, [m["action"] for m in seen]

    raw, copy, actions = asyncio.run(main())
    assert copy.keys() == raw.keys() == {"a", "c"} and copy["a"] == (False, [0, 2], {})
    assert actions == [
        "init",
        "append",
        "insert",
        "setitem",
        "setitem",
        "pop",
        "delitem",
        "setitem",
    ]


def test_backend_selection(monkeypatch):
    monkeypatch.setenv("IONLINK_COMMS", "ionlink")
    assert protocols().source == "ionlink" and protocols().pc_rpc is pc_rpc
    monkeypatch.setenv("IONLINK_COMMS", "bogus")
    with pytest.raises(ValueError):
        protocols()


def test_network_args():
    import argparse

    p = argparse.ArgumentParser()
    simple_network_args(p, 3274)
    assert bind_address_from_args(p.parse_args([])) == ["127.0.0.1", "::1"]
    assert bind_address_from_args(p.parse_args(["--bind", "10.0.0.2"]))[-1] == "10.0.0.2"
    assert bind_address_from_args(p.parse_args(["--no-localhost-bind", "--bind", "h"])) == ["h"]
    assert bind_address_from_args(p.parse_args(["--bind", "*"])) is None
    assert p.parse_args(["-p", "5"]).port == 5


def test_server_binds_an_address_given_twice_once():
    """``--bind ::1`` beside the default loopback addresses (as artiq_ctlmgr starts
    controllers) lists ::1 twice: the server listens once on each address, not 'in use'."""
    from comms.server import TCPServer

    async def main() -> int:
        server = TCPServer()
        await server.start(["127.0.0.1", "::1", "::1", "127.0.0.1"], 0)
        try:
            return len(server._servers)
        finally:
            await server.stop()

    assert asyncio.run(main()) == 2
