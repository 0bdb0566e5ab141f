# SPDX-License-Identifier: LGPL-3.0-or-later
"""ionlink's protocol implementations against sipyco's own, both ways (needs sipyco, so it runs
where ARTIQ is installed: ``python -m pytest tests/comms/test_against_sipyco.py``)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from comms import broadcast, pc_rpc, sync_struct

sipyco_rpc = pytest.importorskip("sipyco.pc_rpc")
sipyco_sync = pytest.importorskip("sipyco.sync_struct")
sipyco_bcast = pytest.importorskip("sipyco.broadcast")

pytestmark = pytest.mark.artiq


class Target:
    def add(self, a, b=2):
        return a + b

    def fail(self):
        raise KeyError("k")


@pytest.mark.parametrize("server_mod, client_mod", [(pc_rpc, sipyco_rpc), (sipyco_rpc, pc_rpc)])
def test_rpc_both_ways(server_mod, client_mod):
    async def main():
        server = server_mod.Server({"t": Target()}, "d")
        await server.start("127.0.0.1", 0)
        port = server.port if hasattr(server, "port") else server.server.sockets[0].getsockname()[1]
        client = client_mod.AsyncioClient()
        await client.connect_rpc("127.0.0.1", port, "t")
        try:
            assert await client.add(np.arange(3), b=1) is not None
            assert (await client.add((1,), b=(2,))) == (1, 2)
            with pytest.raises(KeyError):
                await client.fail()
        finally:
            await client.close_rpc()
            await server.stop()

    asyncio.run(main())


@pytest.mark.parametrize(
    "pub_mod, sub_mod", [(sync_struct, sipyco_sync), (sipyco_sync, sync_struct)]
)
def test_sync_struct_both_ways(pub_mod, sub_mod):
    async def main():
        n = pub_mod.Notifier({"a": (False, [1], {})})
        pub = pub_mod.Publisher({"datasets": n})
        await pub.start("127.0.0.1", 0)
        port = pub.port if hasattr(pub, "port") else pub.server.sockets[0].getsockname()[1]
        copy: dict = {}
        seen: list = []

        def build(x):
            copy.update(x)
            return copy

        sub = sub_mod.Subscriber("datasets", build, seen.append)
        await sub.connect("127.0.0.1", port)
        while not seen:
            await asyncio.sleep(0.01)
        n["a"][1].append(2)
        n["b"] = (True, np.ones(2), {"unit": "s"})
        n["b"][1][0] = 5.0
        del n["a"]
        while len(seen) < 5:
            await asyncio.sleep(0.01)
        await sub.close()
        await pub.stop()
        return copy

    copy = asyncio.run(main())
    assert list(copy) == ["b"] and np.array_equal(copy["b"][1], [5.0, 1.0])


@pytest.mark.parametrize("server_mod, client_mod", [(broadcast, sipyco_bcast)])
def test_broadcast_to_sipyco_receiver(server_mod, client_mod):
    async def main():
        server = server_mod.Broadcaster()
        await server.start("127.0.0.1", 0)
        got: list = []
        receiver = client_mod.Receiver("ccb", [got.append])
        await receiver.connect("127.0.0.1", server.port)
        await asyncio.sleep(0.1)
        server.broadcast("ccb", {"service": "create_applet", "args": ("a", "c"), "kwargs": {}})
        while not got:
            await asyncio.sleep(0.01)
        await receiver.close()
        await server.stop()
        return got

    assert asyncio.run(main())[0]["args"] == ("a", "c")
