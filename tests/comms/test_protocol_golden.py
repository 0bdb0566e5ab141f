# SPDX-License-Identifier: LGPL-3.0-or-later
"""The bytes of sipyco's ``pc_rpc`` and ``sync_struct`` protocols, as ionlink's servers and
clients send and expect them. The expected lines were captured from sipyco 1.10's own server and
publisher (same target, same mods); ionlink's differ only where documented (the method set lists
public members only)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from comms import pc_rpc, pyon, sync_struct

GOLDEN_IDENT = b'{"targets":["ctl"],"description":"sim","features":["pyon_v2"]}\n'


class Ctl:
    def ping(self) -> bool:
        return True


async def _exchange(port: int, lines: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = []
    for line in lines:
        writer.write(line)
        out.append(await asyncio.wait_for(reader.readline(), 5))
    writer.close()
    return out


def test_pc_rpc_server_bytes():
    async def main():
        server = pc_rpc.Server({"ctl": Ctl()}, "sim")
        await server.start("127.0.0.1", 0)
        try:
            return await _exchange(
                server.port,
                [
                    b"ARTIQ pc_rpc\n",
                    b"ctl pyon_v2\n",
                    b'{"action":"call","name":"ping","args":[],"kwargs":{}}\n',
                    b'{"action":"call","name":"nope","args":[1],"kwargs":{}}\n',
                ],
            )
        finally:
            await server.stop()

    ident, methods, ok, failed = asyncio.run(main())
    assert ident == GOLDEN_IDENT
    assert methods == b'{"__jsonclass__":["set",[["ping"]]]}\n'
    assert ok == b'{"status":"ok","ret":true}\n'
    assert failed.startswith(
        b'{"status":"failed","exception":{"class":"AttributeError","message":'
        b'"\'Ctl\' object has no attribute \'nope\'","traceback":["  '
    )


def test_pc_rpc_server_closes_on_wrong_banner_or_feature():
    async def main(lines):
        server = pc_rpc.Server({"ctl": Ctl()}, "sim")
        await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            for line in lines:
                writer.write(line)
            return await asyncio.wait_for(reader.read(), 5)
        finally:
            await server.stop()

    assert asyncio.run(main([b"ARTIQ sync_struct\n"])) == b""
    # a PYON v1 client (no feature) is refused after the identification
    assert asyncio.run(main([b"ARTIQ pc_rpc\n", b"ctl\n"])) == GOLDEN_IDENT
    assert asyncio.run(main([b"ARTIQ pc_rpc\n", b"other pyon_v2\n"])) == GOLDEN_IDENT


def test_pc_rpc_client_against_scripted_server():
    """ionlink's blocking client sends exactly the documented lines and decodes the replies of a
    server that replays sipyco's bytes."""
    received: list[bytes] = []

    async def handler(reader, writer):
        replies = [
            GOLDEN_IDENT,
            b'{"__jsonclass__":["set",[["ping","get"]]]}\n',
            b'{"status":"ok","ret":{"__jsonclass__":["tuple",[[1,"a"]]]}}\n',
            b'{"status":"failed","exception":{"class":"KeyError","message":"k","traceback":[]}}\n',
        ]
        for reply in replies:
            received.append(await reader.readline())
            writer.write(reply)
        await reader.read()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        def client_side():
            c = pc_rpc.Client("127.0.0.1", port, "ctl", timeout=5)
            ret = c.ping(3, x=(1,))
            with pytest.raises(KeyError):
                c.get()
            with pytest.raises(AttributeError):
                c.absent
            c.close_rpc()
            return ret

        ret = await asyncio.get_running_loop().run_in_executor(None, client_side)
        server.close()
        return ret

    assert asyncio.run(main()) == (1, "a")
    assert received[:2] == [b"ARTIQ pc_rpc\n", b"ctl pyon_v2\n"]
    assert pyon.decode(received[2]) == {
        "action": "call",
        "name": "ping",
        "args": (3,),
        "kwargs": {"x": (1,)},
    }
    assert received[2] == (
        b'{"action":"call","name":"ping","args":{"__jsonclass__":["tuple",[[3]]]},'
        b'"kwargs":{"x":{"__jsonclass__":["tuple",[[1]]]}}}\n'
    )


def test_sync_struct_publisher_bytes():
    async def main():
        n = sync_struct.Notifier({"x": (False, 1, {})})
        pub = sync_struct.Publisher({"datasets": n})
        await pub.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", pub.port)
            writer.write(b"ARTIQ sync_struct\ndatasets\n")
            lines = [await asyncio.wait_for(reader.readline(), 5)]
            n["y"] = (True, np.array([1.5]), {"unit": "Hz"})
            n["y"][1][0] = 2
            n["x"] = (False, [], {})
            n["x"][1].append((1, 2))
            del n["x"]
            for _ in range(5):
                lines.append(await asyncio.wait_for(reader.readline(), 5))
            writer.close()
            return lines
        finally:
            await pub.stop()

    lines = asyncio.run(main())
    assert lines == [
        b'{"action":"init","struct":{"x":{"__jsonclass__":["tuple",[[false,1,{}]]]}}}\n',
        b'{"action":"setitem","path":[],"key":"y","value":{"__jsonclass__":["tuple",[[true,'
        b'{"__jsonclass__":["nparray",[[1],"<f8","AAAAAAAA+D8="]]},{"unit":"Hz"}]]]}}\n',
        b'{"action":"setitem","path":["y",1],"key":0,"value":2}\n',
        b'{"action":"setitem","path":[],"key":"x","value":{"__jsonclass__":["tuple",[[false,[],{}]]]}}\n',
        b'{"action":"append","path":["x",1],"x":{"__jsonclass__":["tuple",[[1,2]]]}}\n',
        b'{"action":"delitem","path":[],"key":"x"}\n',
    ]


def test_broadcast_bytes():
    """sipyco's broadcast: banner, channel, then one PYON line per message of that channel."""
    from comms import broadcast

    async def main():
        server = broadcast.Broadcaster()
        await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"ARTIQ broadcast\nccb\n")
            await writer.drain()
            await asyncio.sleep(0.1)
            server.broadcast("log", "not for us")
            server.broadcast(
                "ccb", {"service": "create_applet", "args": ("a", "cmd"), "kwargs": {}}
            )
            line = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            return line
        finally:
            await server.stop()

    assert asyncio.run(main()) == (
        b'{"service":"create_applet","args":{"__jsonclass__":["tuple",[["a","cmd"]]]},'
        b'"kwargs":{}}\n'
    )
