# SPDX-License-Identifier: LGPL-3.0-or-later
"""The remote-logging server (:mod:`comms.remote_log`): the bytes sipyco's ``LogForwarder`` sends
(a controller's log to the master's port 1066) become records with their source, level, logger
name and lines; sipyco's own forwarder where it is importable."""

from __future__ import annotations

import asyncio
import logging

import pytest

from comms import remote_log
from comms.remote_log import RecordParser, RemoteRecord


async def _served(lines: list[bytes]) -> tuple[list[RemoteRecord], bool]:
    """Send ``lines`` (after the banner) to a server; the records it made and whether it
    closed the connection."""
    got: list[RemoteRecord] = []
    server = remote_log.Server(got.append)
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(remote_log.BANNER + b"".join(lines))
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await server.stop()
    return got, closed


def test_records_from_the_wire():
    """One-line and multi-line records, a plain line (a ``print``), TRACE; a line without a
    source closes the connection and what follows is not read."""
    lines = [
        b"ctl:WARNING:ctl.driver:too hot\n",
        b"ctl:ERROR<3>:ctl.driver:failed: a:b\n",
        b"Traceback (most recent call last):\n",
        b"KeyError: 'k'\n",
        b"ctl:hello world\n",
        b"other:TRACE:x:y\n",
        b"no source here\n",
        b"ctl:WARNING:ctl.driver:never read\n",
    ]
    got, closed = asyncio.run(_served(lines))
    assert got == [
        RemoteRecord("ctl", logging.WARNING, "ctl.driver", "too hot"),
        RemoteRecord(
            "ctl",
            logging.ERROR,
            "ctl.driver",
            "failed: a:b\nTraceback (most recent call last):\nKeyError: 'k'",
        ),
        RemoteRecord("ctl", logging.INFO, "print", "hello world"),
        RemoteRecord("other", remote_log.TRACE, "x", "y"),
    ]
    assert closed


def test_wrong_banner_is_refused():
    async def main() -> bytes:
        server = remote_log.Server(lambda r: None)
        await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"ARTIQ broadcast\nctl:WARNING:a:b\n")
            data = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            return data
        finally:
            await server.stop()

    assert asyncio.run(main()) == b""


def test_parser_counts_lines_once():
    """``<1>`` is one line; a record waits for its last line."""
    parser = RecordParser()
    assert parser.feed("s:INFO<1>:n:m") == RemoteRecord("s", logging.INFO, "n", "m")
    assert parser.feed("s:INFO<2>:n:a") is None
    assert parser.feed("s:not a record") == RemoteRecord(
        "s", logging.INFO, "n", "a\ns:not a record"
    )
    with pytest.raises(ValueError):
        parser.feed("nothing")


def test_log_locally_keeps_name_level_and_source(caplog):
    caplog.set_level(logging.DEBUG)
    remote_log.log_locally(RemoteRecord("ctl", logging.DEBUG, "ctl.driver", "two\nlines"))
    (record,) = [r for r in caplog.records if r.name == "ctl.driver"]
    assert (record.levelno, record.getMessage(), record.source) == (  # type: ignore[attr-defined]
        logging.DEBUG,
        "two\nlines",
        "ctl",
    )


def test_sipyco_forwarder_to_our_server():
    """sipyco's ``LogForwarder`` (what a controller runs) sends to ionlink's server."""
    logs = pytest.importorskip("sipyco.logs")

    async def main() -> list[RemoteRecord]:
        got: list[RemoteRecord] = []
        server = remote_log.Server(got.append)
        await server.start("127.0.0.1", 0)
        forwarder = logs.LogForwarder("127.0.0.1", server.port, reconnect_timer=0.1)
        log = logging.getLogger("test.sipyco_forwarder")
        log.addHandler(forwarder)
        log.setLevel(logging.DEBUG)
        log.propagate = False
        forwarder.start()
        try:
            log.warning("one line", extra={"source": "ctl"})
            log.error("two\nlines", extra={"source": "ctl"})
            for _ in range(100):
                if len(got) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            log.removeHandler(forwarder)
            await forwarder.stop()
            await server.stop()
        return got

    assert asyncio.run(main()) == [
        RemoteRecord("ctl", logging.WARNING, "test.sipyco_forwarder", "one line"),
        RemoteRecord("ctl", logging.ERROR, "test.sipyco_forwarder", "two\nlines"),
    ]
